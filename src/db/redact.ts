/** A connection string without its password, for messages and output (the catalog's URLs carry credentials). */
export function redact(url: string): string {
  try {
    const u = new URL(url);
    if (u.password) u.password = '***';
    return u.toString();
  } catch {
    return url;
  }
}

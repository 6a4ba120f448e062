/** Entity tags are the row version, quoted: `"3"`. */
export function etagOf(version: number): string {
  return `"${version}"`;
}

/** Parses an `If-Match` header (already schema-checked): a version, `*`, or undefined. */
export function parseIfMatch(header: string | undefined): number | '*' | undefined {
  if (header === undefined) return undefined;
  if (header === '*') return '*';
  return Number(header.replace(/^W\//, '').replace(/"/g, ''));
}

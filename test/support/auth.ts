/**
 * The headers a test sends to call the API as a trusted service.
 *
 * Authentication replaces this: once every `/v1` route requires a bearer
 * token, it returns `{ authorization: 'Bearer <token with users:read,
 * users:write and users:list>' }` minted with the test stack's own key.
 * Until then the API needs none.
 */
export async function serviceAuthHeaders(): Promise<Record<string, string>> {
  return {};
}

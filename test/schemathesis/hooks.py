"""Schemathesis hooks for Tessera's contract test (test/integration/schemathesis.test.ts).

Some headers have a grammar that needs more than letters and digits:
`If-Match` and `If-None-Match` are `*` or a list of quoted entity tags, and
`X-Tessera-Consistency` is `<shard>@<WAL position>`. The OpenAPI document
spells each grammar as a `pattern`, but Schemathesis's coverage phase builds
header values from letters and digits only, so it cannot satisfy them and
sends a placeholder (`0`) that it still counts as valid. The schema also
names each grammar as a `format`; the strategies below let Schemathesis draw
real values for them, in every phase.
"""

from hypothesis import strategies as st

import schemathesis

# ENTITY_TAG_LIST_PATTERN in src/api/etag.ts, kept to visible ASCII inside
# the quotes so that every value is a plain header.
_TAG = r'(?:W/)?"[\x21\x23-\x7E]{0,8}"'
ENTITY_TAGS = rf"\*|{_TAG}(?: ?, ?{_TAG}){{0,3}}"

# TOKEN_PATTERN in src/db/lsn.ts.
CONSISTENCY_TOKEN = r"[a-z0-9][a-z0-9_-]{0,15}@[0-9A-F]{1,8}/[0-9A-F]{1,8}"

schemathesis.openapi.format("entity-tags", st.from_regex(ENTITY_TAGS, fullmatch=True))
schemathesis.openapi.format("consistency-token", st.from_regex(CONSISTENCY_TOKEN, fullmatch=True))

/** Ceiling 1: a bare Fastify handler that answers every GET with a constant JSON user. */
import { CONSTANT_USER, bareFastify, listen } from './common.js';

const app = bareFastify();
app.get('/v1/users/:id', async () => CONSTANT_USER);
await listen(app);

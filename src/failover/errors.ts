/** A failover refused before it changed anything: bad input or a shard that cannot take one now. */
export class FailoverInputError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'FailoverInputError';
  }
}

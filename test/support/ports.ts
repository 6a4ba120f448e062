/**
 * TESSERA_TEST_PORT_OFFSET moves every test stack's ports, so that two
 * checkouts (or a developer's stack and a test run) can test on one machine.
 */
export const PORT_OFFSET = Number(process.env.TESSERA_TEST_PORT_OFFSET ?? 0);

/** The stack ports a suite asks for, moved by the offset. */
export function testPorts<T extends { port: number; pgBasePort: number; redisPort: number; appBasePort: number }>(ports: T): T {
  return { ...ports, port: ports.port + PORT_OFFSET, pgBasePort: ports.pgBasePort + PORT_OFFSET, redisPort: ports.redisPort + PORT_OFFSET, appBasePort: ports.appBasePort + PORT_OFFSET };
}

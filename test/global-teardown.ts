/** Stops the containers the global set-up started (none when the services were already there). */
export default async function globalTeardown(): Promise<void> {
  await Promise.all((globalThis.__shipdeckTestContainers ?? []).map((container) => container.stop()));
}

/**
 * Re-export of the bus connection factory for the sidecar (which imports only from operator/api).
 * Nothing here opens a connection; `createBusRedis` lives in operator/bus/redis.ts and connects lazily
 * on the first command. See that file for the connection policy (timeouts, retries, blocking duplicate).
 */
export { createBusRedis, type BusRedisConfig, type BusRedisConnections, type SentinelSettings } from "../bus/redis.ts";

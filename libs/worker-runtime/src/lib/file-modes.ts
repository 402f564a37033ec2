/**
 * Modes of what a worker writes in its work directory (recovery files, its id, its lock): they
 * describe deployments and are the worker user's alone.
 */
export const PRIVATE_DIR = 0o700;
export const PRIVATE_FILE = 0o600;

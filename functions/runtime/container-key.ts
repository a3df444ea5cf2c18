/**
 * The key of per-container state (services, SDK clients): the function's name. In Lambda
 * a process runs one function, so there is one key. The local runtime runs every function
 * in one process and gives each invocation its own `AWS_LAMBDA_FUNCTION_NAME` and
 * credentials (local/iam/function-scope.ts), so each function's clients are its own and
 * sign with its own credentials, which the local control plane checks against its grants.
 */
export function containerKey(): string {
  return process.env.AWS_LAMBDA_FUNCTION_NAME ?? '';
}

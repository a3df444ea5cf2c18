/** `sendMessage` → `SendMessage`: construct ids that read like CloudFormation logical ids. */
export function pascalCase(id: string): string {
  return id.charAt(0).toUpperCase() + id.slice(1);
}

/**
 * One line saying why a server (`what`: "JSON-RPC", "P2P") could not listen on `where`, naming the
 * options that choose the address; the system error is kept as the cause.
 */
export function listenError(what: string, where: string, options: string, e: unknown): Error {
  return new Error(`cannot serve ${what} on ${where}: ${reason(e)}; choose another with ${options}`, { cause: e });
}

function reason(e: unknown): string {
  switch ((e as NodeJS.ErrnoException).code) {
    case "EADDRINUSE":
      return "the port is in use (another node running?)";
    case "EADDRNOTAVAIL":
      return "the address is not one of this machine's";
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return "the host name does not resolve";
    case "EACCES":
      return "permission denied (ports below 1024 need privileges)";
    default:
      return (e as Error).message.split("\n")[0] ?? String(e);
  }
}

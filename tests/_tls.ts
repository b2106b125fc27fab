/**
 * Test helpers for TLS to Kafka: certificates made with openssl, and stunnel
 * as the TLS terminator in front of embedded brokers (the mock cluster speaks
 * plaintext only). Both are Debian packages that scripts/setup.sh installs.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Run openssl with `args` in `dir`; rejects with its stderr on a non-zero exit. */
function openssl(dir: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile("openssl", args, { cwd: dir }, (error, _stdout, stderr) => {
      if (error) reject(new Error(`openssl ${args[0]} failed: ${stderr}`));
      else resolve();
    });
  });
}

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];

/** A certificate and its private key, as PEM text and as files. */
export interface Issued {
  cert: string;
  key: string;
  certPath: string;
  keyPath: string;
}

/** The certificates of a test: a CA, a CA nobody trusts here, the broker's (for `localhost` only), clients'. */
export interface Pki {
  /** The directory holding every file; removed by {@link dispose}. */
  dir: string;
  /** PEM of the CA that signed the server and client certificates. */
  ca: string;
  caPath: string;
  /** PEM of another CA, which signed nothing used here. */
  otherCa: string;
  /** The terminator's certificate: subject and SAN `localhost`, not `127.0.0.1`. */
  server: Issued;
  /** A client certificate `CN=<name>` signed by the CA; its key encrypted with `password` when one is given. */
  client(name: string, password?: string): Promise<Issued>;
  dispose(): Promise<void>;
}

/** Make a fresh CA and server certificate in a temporary directory (EC P-256: quick to generate). */
export async function makePki(): Promise<Pki> {
  const dir = await mkdtemp(join(tmpdir(), "kshare-tls-"));
  const selfSigned = async (name: string, subject: string) => {
    await openssl(dir, ["req", "-x509", ...EC_KEY, "-nodes", "-keyout", `${name}.key`, "-out", `${name}.pem`, "-days", "2", "-subj", subject]);
    return readFile(join(dir, `${name}.pem`), "utf8");
  };
  const issue = async (name: string, subject: string, extensions: string, password?: string): Promise<Issued> => {
    await openssl(dir, ["req", ...EC_KEY, "-nodes", "-keyout", `${name}.plain.key`, "-out", `${name}.csr`, "-subj", subject]);
    await writeFile(join(dir, `${name}.ext`), extensions);
    await openssl(dir, [
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      "-days",
      "2",
      "-extfile",
      `${name}.ext`,
    ]);
    if (password === undefined) {
      await openssl(dir, ["pkey", "-in", `${name}.plain.key`, "-out", `${name}.key`]);
    } else {
      // PKCS#8, AES-256: what `openssl pkey -aes256` writes, an ENCRYPTED PRIVATE KEY block.
      await openssl(dir, ["pkey", "-in", `${name}.plain.key`, "-out", `${name}.key`, "-aes256", "-passout", `pass:${password}`]);
    }
    await rm(join(dir, `${name}.plain.key`));
    const certPath = join(dir, `${name}.pem`);
    const keyPath = join(dir, `${name}.key`);
    return { cert: await readFile(certPath, "utf8"), key: await readFile(keyPath, "utf8"), certPath, keyPath };
  };
  const ca = await selfSigned("ca", "/CN=kshare-test-ca");
  const otherCa = await selfSigned("other-ca", "/CN=kshare-other-ca");
  const server = await issue("server", "/CN=localhost", "subjectAltName=DNS:localhost\nextendedKeyUsage=serverAuth\n");
  return {
    dir,
    ca,
    caPath: join(dir, "ca.pem"),
    otherCa,
    server,
    client: (name, password) => issue(`client-${name}`, `/CN=${name}`, "extendedKeyUsage=clientAuth\n", password),
    dispose: () => rm(dir, { recursive: true, force: true }),
  };
}

/** A port nobody listens on now (the kernel's pick for an ephemeral listener, closed again). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      server.close(() => typeof address === "object" && address ? resolve(address.port) : reject(new Error("no port")));
    });
  });
}

/** One TLS listener of the terminator, forwarding to a plaintext `host:port`. */
export interface TerminatorService {
  accept: number;
  connect: string;
}

/** A running stunnel. */
export interface Terminator {
  /** Every line stunnel logged so far. */
  readonly log: readonly string[];
  /**
   * Resolve once `count` logged lines matched `pattern` (at once if they
   * did); reject if stunnel exits first, or after `timeoutMs` (default 10 s),
   * naming what was awaited.
   */
  waitFor(pattern: RegExp, count?: number, timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

/**
 * Start stunnel in the foreground, one service per entry of `services`, with
 * the server certificate of `pki`. With `requireClientCert`, a client must
 * present a certificate signed by the CA (stunnel's `verifyChain` and
 * `requireCert`), or the handshake fails. Resolves once stunnel says it is
 * accepting connections (every listener bound); rejects with its log if it
 * exits first, as it does for a configuration it refuses or a port taken.
 */
export async function startTerminator(
  pki: Pki,
  services: readonly TerminatorService[],
  options: { requireClientCert?: boolean } = {},
): Promise<Terminator> {
  const dir = await mkdtemp(join(pki.dir, "stunnel-"));
  const lines = [
    "foreground = yes",
    "pid =",
    "syslog = no",
    // info: one line per connection, with the subject of the client certificate accepted.
    "debug = info",
  ];
  for (const [i, service] of services.entries()) {
    lines.push(
      `[broker-${i + 1}]`,
      `accept = 127.0.0.1:${service.accept}`,
      `connect = ${service.connect}`,
      `cert = ${pki.server.certPath}`,
      `key = ${pki.server.keyPath}`,
    );
    if (options.requireClientCert) lines.push(`CAfile = ${pki.caPath}`, "verifyChain = yes", "requireCert = yes");
  }
  const config = join(dir, "stunnel.conf");
  await writeFile(config, lines.join("\n") + "\n");

  const log: string[] = [];
  const waiters: Array<{ pattern: RegExp; count: number; resolve: () => void; reject: (e: Error) => void }> = [];
  const matching = (pattern: RegExp) => log.filter((line) => pattern.test(line)).length;
  let exited: Error | undefined;
  const fail = (error: Error) => {
    exited ??= error;
    for (const w of waiters.splice(0)) w.reject(exited);
  };
  const child: ChildProcess = spawn("stunnel", [config], { stdio: ["ignore", "ignore", "pipe"] });
  let partial = "";
  child.stderr!.setEncoding("utf8").on("data", (chunk: string) => {
    const parts = (partial + chunk).split("\n");
    partial = parts.pop()!;
    log.push(...parts);
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (matching(waiters[i]!.pattern) >= waiters[i]!.count) waiters.splice(i, 1)[0]!.resolve();
    }
  });
  const closed = new Promise<void>((resolve) =>
    child.once("close", (code, signal) => {
      fail(new Error(`stunnel exited (${signal ?? code}):\n${log.join("\n")}`));
      resolve();
    })
  );
  child.once("error", (error) => fail(new Error(`stunnel could not start (scripts/setup.sh installs it: Debian's stunnel4): ${error.message}`)));

  const waitFor = (pattern: RegExp, count = 1, timeoutMs = 10_000): Promise<void> => {
    if (matching(pattern) >= count) return Promise.resolve();
    if (exited) return Promise.reject(exited);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        const i = waiters.indexOf(waiter);
        if (i >= 0) waiters.splice(i, 1);
        reject(new Error(`stunnel logged ${matching(pattern)} lines matching ${pattern}, not ${count}, within ${timeoutMs} ms`));
      }, timeoutMs);
      const waiter = {
        pattern,
        count,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      waiters.push(waiter);
    });
  };
  const stop = async () => {
    if (!exited) child.kill("SIGTERM");
    // Without a pid it never started, and no close will come.
    if (child.pid !== undefined) await closed;
    await rm(dir, { recursive: true, force: true });
  };
  // "Accepting new connections" follows the binding of every service; a
  // configuration stunnel refuses ends the process, which rejects the wait.
  try {
    await waitFor(/Accepting new connections/);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    log,
    waitFor,
    stop,
  };
}

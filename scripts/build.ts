// Builds the single executable dist/soltix with Bun.build. One plugin: etcd3 loads its gRPC protos from
// a build-time path (`${__dirname}/../proto/rpc.proto`) that does not exist next to a compiled binary,
// so the protos are inlined and written to a temp dir at first use (see ../shared/TOOLCHAIN.md).

import { readFileSync } from "node:fs";
import { join, dirname } from "node:path";
import type { BunPlugin } from "bun";

const ROOT = join(import.meta.dir, "..");

const etcdProtoPlugin: BunPlugin = {
  name: "etcd3-embedded-protos",
  setup(build) {
    build.onLoad({ filter: /etcd3[\\/]lib[\\/]connection-pool\.js$/ }, (args) => {
      const src = readFileSync(args.path, "utf8");
      const protoDir = join(dirname(args.path), "..", "proto");
      const files = Object.fromEntries(["rpc.proto", "kv.proto", "auth.proto"].map((f) => [f, readFileSync(join(protoDir, f), "utf8")]));
      const needle = "`${__dirname}/../proto/rpc.proto`";
      if (!src.includes(needle)) throw new Error("etcd3 connection-pool.js changed: proto path not found; update scripts/build.ts");
      const prelude = `
const __soltixProtoDir = (() => {
  const fs = require("node:fs"), os = require("node:os"), path = require("node:path");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "soltix-etcd-proto-"));
  const files = ${JSON.stringify(files)};
  for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), text);
  process.once("exit", () => { try { fs.rmSync(dir, { recursive: true, force: true }); } catch {} });
  return dir;
})();
`;
      return { contents: prelude + src.replace(needle, "`${__soltixProtoDir}/rpc.proto`"), loader: "js" };
    });
  },
};

const result = await Bun.build({
  // The compute worker is a second entrypoint: `new URL("./worker.ts", import.meta.url)` finds it inside the binary.
  entrypoints: [join(ROOT, "src/main.ts"), join(ROOT, "src/worker.ts")],
  compile: { outfile: join(ROOT, "dist/soltix") },
  minify: true,
  sourcemap: "linked",
  plugins: [etcdProtoPlugin],
});
if (!result.success) {
  for (const log of result.logs) console.error(log);
  process.exit(1);
}

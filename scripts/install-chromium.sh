#!/bin/bash
# Headless Chromium for the report checks (tests/headless_chromium.py) on a machine without a system
# Chromium and without internet beyond the package registries: unpacks the Chromium build that the npm
# package @sparticuz/chromium ships (x86-64 Linux, brotli-compressed) and puts a `chromium` launcher on PATH.
# Needs node and npm. Usage: scripts/install-chromium.sh [PREFIX]   (default ~/.local: PREFIX/bin/chromium)
set -euo pipefail
version=153.0.0
prefix=${1:-$HOME/.local}
home=$prefix/lib/egraffbench-chromium
mkdir -p "$home" "$prefix/bin"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$work" && npm pack --silent "@sparticuz/chromium@$version" >/dev/null && tar xzf sparticuz-chromium-$version.tgz)
node -e '
const fs = require("fs"), zlib = require("zlib"), [src, dst] = process.argv.slice(1);
for (const name of ["chromium", "fonts.tar", "swiftshader.tar", "al2023.tar"])
  fs.writeFileSync(`${dst}/${name}`, zlib.brotliDecompressSync(fs.readFileSync(`${src}/${name}.br`)));
' "$work/package/bin" "$home"
for archive in "$home"/*.tar; do tar xf "$archive" -C "$home" && rm "$archive"; done
chmod +x "$home/chromium"
cat > "$home/fonts.conf" <<CONF
<?xml version="1.0" ?>
<!DOCTYPE fontconfig SYSTEM "fonts.dtd">
<fontconfig><dir>/usr/share/fonts</dir><dir>$home/fonts</dir><cachedir>$home/fonts-cache</cachedir></fontconfig>
CONF
cat > "$prefix/bin/chromium" <<LAUNCHER
#!/bin/sh
# Chromium $version from @sparticuz/chromium (scripts/install-chromium.sh)
export LD_LIBRARY_PATH=$home/lib:$home\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH} FONTCONFIG_PATH=$home
exec $home/chromium "\$@"
LAUNCHER
chmod +x "$prefix/bin/chromium"
"$prefix/bin/chromium" --version

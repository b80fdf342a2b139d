#!/bin/sh
# Builds the Arrow single-task kernel from Debian's linux-source-6.1, once per
# config hash: the result is cached outside the work tree (ARROW_KERNEL_CACHE,
# default /var/cache/arrow/kernel) so clean clones and test runs reuse it.
# Usage: build-kernel.sh FRAGMENT OUTPUT_BZIMAGE
set -eu
fragment=$(realpath "$1")
output=$(realpath -m "$2")
tarball=${LINUX_SOURCE_TARBALL:-/usr/src/linux-source-6.1.tar.xz}
cache=${ARROW_KERNEL_CACHE:-/var/cache/arrow/kernel}

[ -r "$tarball" ] || { echo "build-kernel: $tarball missing (apt-get install linux-source-6.1)" >&2; exit 1; }
# The key covers what determines the image: the fragment and the source package version.
srcver=$(dpkg-query -W -f='${Version}' linux-source-6.1 2>/dev/null || stat -c %s "$tarball")
key=$( (cat "$fragment"; echo "$srcver") | sha256sum | cut -c1-16)
cached="$cache/bzImage-$key"
mkdir -p "$cache"
# One build per machine at a time: a second caller waits, then finds the cache.
exec 9>"$cache/.lock-$key"
if ! flock -n 9; then
  echo "build-kernel: another build of $key is running; waiting for it"
  flock 9
fi
install_outputs() {
  cp "$cached" "$output.tmp" && mv "$output.tmp" "$output"
}
if [ -f "$cached" ]; then
  echo "build-kernel: cached $cached"
  install_outputs
  exit 0
fi

work=$(mktemp -d "$cache/build-$key.XXXXXX")
trap 'rm -rf "$work"' EXIT
echo "build-kernel: unpacking $tarball (config $key)"
tar -C "$work" -xf "$tarball"
src=$(echo "$work"/linux-source-*)
cd "$src"
make -s ARCH=x86_64 tinyconfig
./scripts/kconfig/merge_config.sh -m .config "$fragment" >/dev/null
make -s ARCH=x86_64 olddefconfig
# Every requested option must have survived olddefconfig (a typo or an unmet
# dependency would otherwise silently drop it).
missing=0
grep -E '^CONFIG_[A-Z0-9_]+=' "$fragment" | while IFS= read -r line; do
  grep -qx "$line" .config || { echo "build-kernel: not applied: $line" >&2; echo x; }
done > "$work/missing"
grep -E '^# CONFIG_[A-Z0-9_]+ is not set' "$fragment" | while IFS= read -r line; do
  opt=$(echo "$line" | cut -d' ' -f2)
  ! grep -q "^$opt=" .config || { echo "build-kernel: still enabled: $opt" >&2; echo x; }
done >> "$work/missing"
if [ -s "$work/missing" ]; then exit 1; fi
echo "build-kernel: compiling bzImage with $(nproc) jobs (about 8 minutes on 2 cores)"
# One line per compiled object shows progress without flooding the log.
make ARCH=x86_64 -j"$(nproc)" bzImage vmlinux 2>&1 | grep --line-buffered -E '^\s+(CC|LD|AR|AS)\s' | awk '{n++; if (n % 50 == 0) {printf "build-kernel: %d objects\n", n; fflush()}}'
[ -f arch/x86/boot/bzImage ] || { echo "build-kernel: build failed" >&2; make ARCH=x86_64 bzImage 2>&1 | tail -30 >&2; exit 1; }
cp .config "$cache/config-$key"
# vmlinux without symbols keeps its PVH note, so QEMU can boot it directly;
# kept in the cache for comparison only (measured: no faster than the gzip
# bzImage, its 16 MB load costing what decompression saves; see BOOT.md).
objcopy --strip-all vmlinux "$cache/vmlinux-$key.tmp" && mv "$cache/vmlinux-$key.tmp" "$cache/vmlinux-$key"
cp arch/x86/boot/bzImage "$cached.tmp" && mv "$cached.tmp" "$cached"
echo "build-kernel: built $cached ($(stat -c %s "$cached") bytes)"
install_outputs

#!/usr/bin/env bash
# pi-check: prove the edgedigits runtime on the Raspberry Pi OS 64-bit stack (Debian 12 bookworm
# arm64, Python 3.11) under qemu-user emulation, against the same commands on this x86 host.
#
#   bash runtime/pi/pi_check.sh            (make pi-check; needs root, binfmt_misc, Debian mirror, PyPI)
#
# Environment: MODEL (edge), ARTIFACTS (<repo>/artifacts), EDGEDIGITS_PI_CACHE
# (${XDG_CACHE_HOME:-~/.cache}/edgedigits: holds pi-rootfs/ and the last run/), HOST_VENV (<repo>/.venv),
# PI_RUNTIME_SRC (<repo>/runtime), PI_CPUS ("pi4:cortex-a72 pi5:cortex-a76").
#
# Steps: host tools + binfmt_misc -> cached bookworm arm64 rootfs (debootstrap) -> fixed inputs and host
# results -> inside a private mount namespace: venvs in the rootfs (core: numpy + ai-edge-litert;
# full: + [onnx,camera]; tflite: tflite-runtime + numpy<2, no ai-edge-litert) and the same commands per
# emulated CPU -> compare.py (identical top-1 / line texts; float within 1e-5, int8 within one output
# quantization step) -> report. Exits non-zero on any mismatch or when the machine cannot do it.
set -euo pipefail

PI_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$PI_DIR/../.." && pwd)
MODEL=${MODEL:-edge}
ARTIFACTS=${ARTIFACTS:-$REPO/artifacts}
CACHE=${EDGEDIGITS_PI_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edgedigits}
ROOTFS=$CACHE/pi-rootfs
WORK=$CACHE/run
HOST_VENV=${HOST_VENV:-$REPO/.venv}
RUNTIME_SRC=${PI_RUNTIME_SRC:-$REPO/runtime}
PI_CPUS=${PI_CPUS:-pi4:cortex-a72 pi5:cortex-a76}
SUITE=bookworm
ROOTFS_RECIPE="v1 $SUITE arm64 minbase python3,python3-venv,python3-pip,ca-certificates"
DEVICE_MNT=/mnt/pi-check          # where $WORK appears inside the rootfs
VENV_ROOT=/opt/edgedigits          # venvs inside the rootfs
FORMATS_TFLITE="tflite-int8 tflite-f32"
# The tflite_runtime fallback stack (tflite-runtime 2.14 needs numpy<2; OpenCV 4.11 is the last
# headless build that accepts numpy 1.x). Pinned so the host reference venv runs the same versions.
# Pillow (a runtime dependency: the wheel goes in with --no-deps) at the toolkit's own pin.
PILLOW_PIN=pillow
while read -r line; do case $line in pillow==*) PILLOW_PIN=$line ;; esac; done <"$REPO/constraints.txt"
TFLITE_PINS="numpy==1.26.4 tflite-runtime==2.14.0 opencv-python-headless==4.11.0.86 $PILLOW_PIN"
FORMATS_ALL="tflite-int8 tflite-f32 onnx-int8 onnx-f32"
CHROOT_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

die() { echo "pi-check: FAILED: $*" >&2; exit 1; }
note() { echo "pi-check: $*"; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }
elapsed() { printf '%.1f s' "$(( $(now_ms) - $1 ))e-3"; }

suffix_of() {  # format name -> file suffix (runtime/edgedigits/formats.py is the source of truth)
  case $1 in
    tflite-int8) echo .int8.tflite ;; tflite-f32) echo .f32.tflite ;;
    onnx-int8) echo .int8.onnx ;; onnx-f32) echo .f32.onnx ;;
    *) die "unknown format $1" ;;
  esac
}

# ---------------------------------------------------------------- device side (private mount namespace)
# Run a command in the rootfs with a clean environment: nothing of the host's PATH/PIP_*/PYTHON* leaks in.
in_rootfs() {  # QEMU_CPU_NAME must be set
  env -i PATH=$CHROOT_PATH HOME=/root LANG=C.UTF-8 TMPDIR=/tmp QEMU_CPU="$QEMU_CPU_NAME" \
    PIP_CERT=/etc/ssl/certs/ca-certificates.crt PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_DEFAULT_TIMEOUT=120 \
    PIP_NO_INPUT=1 \
    "$CHROOT" "$ROOTFS" "$@"
}

mount_rootfs() {
  mount -t proc proc "$ROOTFS/proc"
  mount --rbind /dev "$ROOTFS/dev"
  mount -t sysfs sysfs "$ROOTFS/sys"
  mount -t tmpfs tmpfs "$ROOTFS/tmp"
  mkdir -p "$ROOTFS$DEVICE_MNT"
  mount --bind "$WORK" "$ROOTFS$DEVICE_MNT"
}

use_cpu() {  # <board> <qemu cpu>: Pi-like /proc/cpuinfo + QEMU_CPU for every later in_rootfs call
  local board=$1 cpu=$2
  mountpoint -q "$ROOTFS/proc/cpuinfo" 2>/dev/null && umount "$ROOTFS/proc/cpuinfo"
  mount --bind "$PI_DIR/cpuinfo-$board.txt" "$ROOTFS/proc/cpuinfo"
  QEMU_CPU_NAME=$cpu
}

# Prove QEMU_CPU took effect: qemu-user's default "max" CPU has SVE (bit 22 of AT_HWCAP), which makes
# XNNPACK's int8 kernels return wrong numbers; cortex-a72 has no dot product (bit 20), cortex-a76 does.
check_cpu() {  # <board> <qemu cpu>
  local hwcap
  hwcap=$(in_rootfs /usr/bin/python3 -c 'import ctypes; print(ctypes.CDLL(None).getauxval(16))') \
    || die "could not run python3 in the rootfs with QEMU_CPU=$2"
  local sve=$(( (hwcap >> 22) & 1 )) dotprod=$(( (hwcap >> 20) & 1 )) want_dp=0
  [ "$2" = cortex-a76 ] && want_dp=1
  [ "$sve" = 0 ] || die "$1: emulated CPU exposes SVE (AT_HWCAP=$hwcap): QEMU_CPU=$2 did not take effect"
  [ "$dotprod" = "$want_dp" ] || die "$1: AT_HWCAP=$hwcap dotprod=$dotprod, expected $want_dp for $2"
  echo "$1: QEMU_CPU=$2 AT_HWCAP=0x$(printf '%x' "$hwcap") (sve=0 dotprod=$dotprod); /proc/cpuinfo model:" \
    "$(in_rootfs /bin/sh -c "sed -n 's/^Model[[:space:]]*: //p' /proc/cpuinfo")" >>"$WORK/device/cpus.txt"
}

venv_stamp() {  # <name> <spec...>: what the venv was built from
  printf '%s\n' "$@"; cat "$RUNTIME_SRC/pyproject.toml" "$REPO/constraints.txt"
}

# Create (or reuse) a venv in the rootfs; dependencies are cached, the runtime wheel is always reinstalled.
ensure_venv() {  # <name> <pip args...>
  local name=$1; shift
  local dir=$VENV_ROOT/$name stamp
  stamp=$(venv_stamp "$name" "$@" | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$ROOTFS$dir/.pi-check-stamp" 2>/dev/null)" != "$stamp" ]; then
    local t0; t0=$(now_ms)
    rm -rf "${ROOTFS:?}$dir"
    in_rootfs /usr/bin/python3 -m venv "$dir"
    # --no-compile: byte-compiling every installed file under emulation costs minutes; the
    # modules actually imported get their .pyc written on first use instead.
    in_rootfs "$dir/bin/pip" install -q --no-compile "$@" >"$WORK/device/pip-$name.log" 2>&1 \
      || { tail -20 "$WORK/device/pip-$name.log"; die "pip install in venv $name failed ($*)"; }
    echo "$stamp" >"$ROOTFS$dir/.pi-check-stamp"
    echo "venv $name: built in $(elapsed "$t0")" >>"$WORK/device/timings.txt"
  else
    echo "venv $name: reused" >>"$WORK/device/timings.txt"
  fi
  in_rootfs "$dir/bin/pip" install -q --no-compile --no-deps --force-reinstall "$DEVICE_MNT/wheel/$WHEEL_NAME" \
    >>"$WORK/device/pip-$name.log" 2>&1 || die "installing $WHEEL_NAME into venv $name failed"
}

venv_versions() {  # <name>: one line of versions as seen inside the venv
  in_rootfs "$VENV_ROOT/$1/bin/python" -c '
import importlib.metadata as md, platform, sys
names = ["edgedigits-runtime", "numpy", "ai-edge-litert", "tflite-runtime", "onnxruntime", "opencv-python-headless", "pillow"]
found = []
for n in names:
    try:
        found.append(f"{n} {md.version(n)}")
    except md.PackageNotFoundError:
        pass
print(f"python {platform.python_version()} glibc {platform.libc_ver()[1]} {platform.machine()}; " + ", ".join(found))'
}

# The venv must contain exactly the interpreter backend we claim to test.
check_imports() {  # <venv> <module that must import> <module that must not>...
  local venv=$1 want=$2; shift 2
  in_rootfs "$VENV_ROOT/$venv/bin/python" -c "import $want" 2>/dev/null \
    || die "venv $venv: 'import $want' fails"
  local m
  for m in "$@"; do
    if in_rootfs "$VENV_ROOT/$venv/bin/python" -c "import $m" 2>/dev/null; then
      die "venv $venv: $m is importable, so this venv would not prove what it should"
    fi
  done
}

# Which TFLite interpreter the runtime itself picks by default (no --backend) in each venv.
check_interpreter() {  # <venv>
  local venv=$1 want=ai_edge_litert interp
  [ "$venv" = tflite ] && want=tflite_runtime
  in_rootfs "$VENV_ROOT/$venv/bin/edgedigits" info --json --model "$DEVICE_MNT/models/$MODEL.int8.tflite" \
    >"$WORK/device/info-$venv.json" 2>"$WORK/device/info-$venv.err" \
    || die "venv $venv: edgedigits info failed: $(tail -3 "$WORK/device/info-$venv.err")"
  interp=$(sed -n 's/^  "interpreter": "\(.*\)",$/\1/p' "$WORK/device/info-$venv.json")
  [ "${interp%% *}" = "$want" ] || die "venv $venv: the runtime chose '$interp' for TFLite, expected $want"
  echo "$venv: edgedigits info --model $MODEL.int8.tflite: interpreter $interp" >>"$WORK/device/versions.txt"
}

run_device() {  # <board> <venv> <kind> <format> <inputs dir>
  local board=$1 venv=$2 kind=$3 fmt=$4 inputs=$5
  local out=$WORK/device/$board/$venv
  mkdir -p "$out"
  local model=$DEVICE_MNT/models/$MODEL$(suffix_of "$fmt") t0 status=0
  t0=$(now_ms)
  # shellcheck disable=SC2046  # the file list is a glob expanded inside the rootfs
  in_rootfs /bin/sh -c "exec $VENV_ROOT/$venv/bin/edgedigits $kind --json --model $model $DEVICE_MNT/inputs/$inputs/*.png" \
    >"$out/$fmt.$kind.json" 2>"$out/$fmt.$kind.err" || status=$?
  echo "$board $venv $fmt $kind exit=$status $(elapsed "$t0")" >>"$WORK/device/timings.txt"
}

# read in the core venv (no OpenCV) must fail and say that OpenCV / the [camera] extra is missing.
check_read_without_opencv() {  # <board>
  local out=$WORK/device/$1/core status=0
  mkdir -p "$out"
  in_rootfs /bin/sh -c "exec $VENV_ROOT/core/bin/edgedigits read --json --model $DEVICE_MNT/models/$MODEL.int8.tflite $DEVICE_MNT/inputs/frames/frame-00.png" \
    >"$out/read-without-opencv.out" 2>&1 || status=$?
  echo "$status" >"$out/read-without-opencv.status"
}

device_main() {
  mount_rootfs
  local first_board=${PI_CPUS%%:*} first_cpu=${PI_CPUS#*:}; first_cpu=${first_cpu%% *}
  use_cpu "$first_board" "$first_cpu"
  # The three venvs build in parallel (network and emulated CPU overlap).
  # shellcheck disable=SC2086
  ensure_venv core -c "$DEVICE_MNT/constraints.txt" "$DEVICE_MNT/wheel/$WHEEL_NAME" & local p_core=$!
  ensure_venv full -c "$DEVICE_MNT/constraints.txt" "$DEVICE_MNT/wheel/$WHEEL_NAME[onnx,camera]" & local p_full=$!
  # No ai-edge-litert here: the runtime's own dependency list is skipped (--no-deps in ensure_venv).
  # shellcheck disable=SC2086
  ensure_venv tflite $TFLITE_PINS & local p_tflite=$!
  wait "$p_core" || die "venv core could not be set up"
  wait "$p_full" || die "venv full could not be set up"
  wait "$p_tflite" || die "venv tflite could not be set up"
  check_imports core ai_edge_litert onnxruntime cv2 tflite_runtime
  check_imports full ai_edge_litert tflite_runtime
  check_imports tflite tflite_runtime ai_edge_litert onnxruntime
  local v
  for v in core full tflite; do echo "$v: $(venv_versions $v)"; done >"$WORK/device/versions.txt"
  for v in core full tflite; do check_interpreter $v; done

  local pair board cpu fmt
  for pair in $PI_CPUS; do
    board=${pair%%:*} cpu=${pair#*:}
    use_cpu "$board" "$cpu"
    check_cpu "$board" "$cpu"
    for fmt in $FORMATS_TFLITE; do run_device "$board" core predict "$fmt" digits; done
    check_read_without_opencv "$board"
    for fmt in $FORMATS_ALL; do
      run_device "$board" full predict "$fmt" digits
      run_device "$board" full read "$fmt" frames
    done
    for fmt in $FORMATS_TFLITE; do
      run_device "$board" tflite predict "$fmt" digits
      run_device "$board" tflite read "$fmt" frames
    done
  done
}

if [ "${1:-}" = __device ]; then
  CHROOT=$(command -v chroot)
  WHEEL_NAME=$2
  device_main
  exit 0
fi

# ---------------------------------------------------------------- host side
check_models() {
  local dir=$ARTIFACTS/$MODEL fmt missing=()
  [ -f "$dir/manifest.json" ] || missing+=("manifest.json")
  for fmt in $FORMATS_ALL; do
    [ -f "$dir/$MODEL$(suffix_of "$fmt")" ] || missing+=("$MODEL$(suffix_of "$fmt")")
  done
  [ ${#missing[@]} -eq 0 ] || die "exported model files missing in $dir: ${missing[*]} -- run make train export first" \
    "(MODEL=$MODEL)"
  [ -x "$HOST_VENV/bin/edgedigits" ] || die "no host CLI $HOST_VENV/bin/edgedigits (make pi-check installs .venv first)"
}

check_machine() {
  [ "$(id -u)" = 0 ] || die "needs root (debootstrap, chroot, mount, binfmt_misc registration); running as $(id -un)"
  [ "$(uname -m)" = x86_64 ] || die "expects an x86_64 host to emulate arm64 on; this is $(uname -m)"
  local missing=() tool
  for tool in debootstrap qemu-aarch64-static update-binfmts; do
    command -v "$tool" >/dev/null || missing+=("$tool")
  done
  if [ ${#missing[@]} -gt 0 ]; then
    command -v apt-get >/dev/null || die "missing ${missing[*]} and no apt-get to install them"
    note "installing qemu-user-static binfmt-support debootstrap (missing: ${missing[*]})"
    { apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q qemu-user-static binfmt-support debootstrap; } \
      >"$CACHE/apt-install.log" 2>&1 || { tail -20 "$CACHE/apt-install.log"; die "apt-get install failed (log above)"; }
  fi
  for tool in unshare chroot mountpoint findmnt flock; do
    command -v "$tool" >/dev/null || die "missing $tool (util-linux/coreutils)"
  done
}

ensure_binfmt() {
  local bf=/proc/sys/fs/binfmt_misc
  if [ ! -e "$bf/register" ]; then
    grep -qw binfmt_misc /proc/filesystems || modprobe binfmt_misc 2>/dev/null || true
    grep -qw binfmt_misc /proc/filesystems \
      || die "the kernel has no binfmt_misc (not in /proc/filesystems, modprobe failed): cannot run arm64 binaries"
    mount -t binfmt_misc binfmt_misc "$bf" 2>"$CACHE/binfmt.err" \
      || die "cannot mount binfmt_misc on $bf ($(cat "$CACHE/binfmt.err")): a container without this privilege cannot emulate arm64"
  fi
  if [ ! -e "$bf/qemu-aarch64" ]; then
    update-binfmts --enable qemu-aarch64 >/dev/null 2>&1 || true
  fi
  if [ ! -e "$bf/qemu-aarch64" ]; then  # register by hand, F: the kernel keeps the interpreter open (chroot-safe)
    printf '%s' ':qemu-aarch64:M::\x7fELF\x02\x01\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x02\x00\xb7\x00:\xff\xff\xff\xff\xff\xff\xff\x00\xff\xff\xff\xff\xff\xff\xff\xff\xfe\xff\xff\xff:/usr/bin/qemu-aarch64-static:FP' \
      >"$bf/register" 2>/dev/null || die "cannot register qemu-aarch64 with binfmt_misc"
  fi
  [ "$(head -1 "$bf/qemu-aarch64")" = enabled ] || echo 1 >"$bf/qemu-aarch64" \
    || die "binfmt_misc entry qemu-aarch64 is disabled and cannot be enabled"
  BINFMT_INTERP=$(sed -n 's/^interpreter //p' "$bf/qemu-aarch64")
  BINFMT_FLAGS=$(sed -n 's/^flags: //p' "$bf/qemu-aarch64")
}

debian_mirror() {  # the bookworm main archive configured in /etc/apt (sources.list or deb822)
  local uri
  uri=$(apt-get indextargets --format '$(RELEASE) $(COMPONENT) $(TARGET_OF) $(REPO_URI)' 2>/dev/null \
        | awk -v s="$SUITE" '$1 == s && $2 == "main" && $3 == "deb" {print $4; exit}')
  [ -n "$uri" ] || die "no '$SUITE main' Debian archive configured in /etc/apt (apt-get indextargets found none;" \
    "run apt-get update?)"
  echo "$uri"
}

build_rootfs() {
  if [ "$(cat "$ROOTFS/.pi-check-rootfs" 2>/dev/null)" = "$ROOTFS_RECIPE" ]; then
    ROOTFS_STATE="cached"
    return
  fi
  local mirror partial=$ROOTFS.partial t0
  mirror=$(debian_mirror)
  for dir in "$ROOTFS" "$partial"; do
    if findmnt -rn -o TARGET | grep -q "^$dir\(/\|$\)"; then die "something is mounted under $dir: unmount it first"; fi
  done
  rm -rf "$partial" "$ROOTFS"
  note "building the $SUITE arm64 rootfs from $mirror into $ROOTFS (a few minutes, once)"
  t0=$(now_ms)
  # In a private mount namespace so debootstrap's proc/sys mounts vanish even when it fails.
  unshare -m --propagation private debootstrap --arch=arm64 --variant=minbase \
    --include=python3,python3-venv,python3-pip,ca-certificates "$SUITE" "$partial" "$mirror" \
    >"$CACHE/debootstrap.log" 2>&1 || { tail -20 "$CACHE/debootstrap.log"; die "debootstrap failed (log: $CACHE/debootstrap.log)"; }
  rm -rf "$partial"/var/cache/apt/archives/*.deb
  echo "$ROOTFS_RECIPE" >"$partial/.pi-check-rootfs"
  mv "$partial" "$ROOTFS"
  ROOTFS_STATE="built in $(elapsed "$t0")"
}

refresh_rootfs() {  # host DNS and extra CA certificates (a TLS-inspecting egress needs them for pip)
  cp -L /etc/resolv.conf "$ROOTFS/etc/resolv.conf"
  local certs=/usr/local/share/ca-certificates changed=0 crt
  mkdir -p "$ROOTFS$certs"
  for crt in "$certs"/*.crt; do
    [ -e "$crt" ] || continue
    cmp -s "$crt" "$ROOTFS$crt" || { cp "$crt" "$ROOTFS$crt"; changed=1; }
  done
  if [ "$changed" = 1 ]; then
    QEMU_CPU_NAME=cortex-a72 CHROOT=$(command -v chroot) in_rootfs update-ca-certificates >"$CACHE/update-ca-certificates.log" 2>&1 \
      || die "update-ca-certificates failed in the rootfs"
  fi
  if [[ "$BINFMT_FLAGS" != *F* ]]; then  # interpreter is looked up inside the chroot
    mkdir -p "$ROOTFS$(dirname "$BINFMT_INTERP")"
    cp "$(readlink -f "$BINFMT_INTERP")" "$ROOTFS$BINFMT_INTERP"
  fi
}

prepare_work() {
  rm -rf "$WORK"
  mkdir -p "$WORK"/{models,wheel,host,device,src}
  local fmt
  for fmt in $FORMATS_ALL; do cp "$ARTIFACTS/$MODEL/$MODEL$(suffix_of "$fmt")" "$WORK/models/"; done
  cp "$ARTIFACTS/$MODEL/manifest.json" "$WORK/models/"
  cp "$REPO/constraints.txt" "$WORK/"
  (cd "$REPO" && PYTHONPATH=$REPO "$HOST_VENV/bin/python" "$PI_DIR/make_inputs.py" --out-dir "$WORK/inputs") \
    || die "could not write the test inputs"
  # Build the runtime wheel from a copy so nothing is written into the repo.
  tar -C "$RUNTIME_SRC" --exclude=build --exclude='*.egg-info' --exclude=__pycache__ --exclude=pi -cf - . \
    | tar -C "$WORK/src" -xf -
  "$HOST_VENV/bin/python" -m pip wheel -q --no-deps -w "$WORK/wheel" "$WORK/src" >"$WORK/wheel.log" 2>&1 \
    || { tail -20 "$WORK/wheel.log"; die "could not build the runtime wheel"; }
  WHEEL_NAME=$(cd "$WORK/wheel" && ls ./*.whl | head -1); WHEEL_NAME=${WHEEL_NAME#./}
}

# The same tflite_runtime stack on the host, as the reference for the device's tflite venv.
ensure_host_tflite_venv() {
  local dir=$CACHE/host-tflite-venv stamp base
  stamp=$(echo "$TFLITE_PINS" | sha256sum | cut -d' ' -f1)
  if [ "$(cat "$dir/.pi-check-stamp" 2>/dev/null)" != "$stamp" ]; then
    base=$("$HOST_VENV/bin/python" -c 'import sys; print(sys._base_executable)')
    rm -rf "$dir"
    "$base" -m venv "$dir" || die "cannot create the host tflite_runtime venv with $base"
    # shellcheck disable=SC2086
    "$dir/bin/pip" install -q $TFLITE_PINS >"$WORK/host/pip-tflite.log" 2>&1 \
      || { tail -20 "$WORK/host/pip-tflite.log"; die "host: pip install $TFLITE_PINS failed"; }
    echo "$stamp" >"$dir/.pi-check-stamp"
  fi
  "$dir/bin/pip" install -q --no-deps --force-reinstall "$WORK/wheel/$WHEEL_NAME" >>"$WORK/host/pip-tflite.log" 2>&1 \
    || die "host: installing $WHEEL_NAME into $dir failed"
  HOST_TFLITE_VENV=$dir
}

run_host_cli() {  # <out dir> <edgedigits> <formats>
  local out=$1 cli=$2 fmt kind inputs
  mkdir -p "$out"
  for fmt in $3; do
    for kind in predict read; do
      inputs=digits; [ "$kind" = read ] && inputs=frames
      # PYTHONPATH: the host venv's editable install must run the same snapshot the device got.
      PYTHONPATH=$WORK/src "$cli" "$kind" --json --model "$WORK/models/$MODEL$(suffix_of "$fmt")" \
        "$WORK/inputs/$inputs"/*.png >"$out/$fmt.$kind.json" 2>"$out/$fmt.$kind.err" \
        || { tail -5 "$out/$fmt.$kind.err"; die "host: $cli $kind ($fmt) failed"; }
    done
  done
}

run_host() {
  run_host_cli "$WORK/host/default" "$HOST_VENV/bin/edgedigits" "$FORMATS_ALL"
  ensure_host_tflite_venv
  run_host_cli "$WORK/host/tflite" "$HOST_TFLITE_VENV/bin/edgedigits" "$FORMATS_TFLITE"
}

compare_all() {  # prints the agreement lines, sets FAILURES
  FAILURES=0
  local pair board venv fmt kind status out host_ref
  for pair in $PI_CPUS; do
    board=${pair%%:*}
    for venv in core full tflite; do
      for fmt in $FORMATS_ALL; do
        for kind in predict read; do
          out=$WORK/device/$board/$venv/$fmt.$kind
          [ -e "$out.json" ] || continue
          status=$(awk -v b="$board" -v v="$venv" -v f="$fmt" -v k="$kind" \
                   '$1==b && $2==v && $3==f && $4==k {sub("exit=","",$5); print $5}' "$WORK/device/timings.txt")
          if [ "$status" != 0 ]; then
            echo "FAIL $board $venv $fmt $kind: edgedigits exited $status on the device:"
            tail -5 "$out.err" | sed 's/^/       /'
            FAILURES=$((FAILURES + 1))
            continue
          fi
          host_ref=$WORK/host/default; steps=1
          # tflite-runtime 2.14's aarch64 and x86 int8 kernels round requantization differently:
          # measured up to 2 output steps apart (top-1 equal); the fallback gets 2 steps, said so.
          [ "$venv" = tflite ] && host_ref=$WORK/host/tflite && steps=2
          "$HOST_VENV/bin/python" "$PI_DIR/compare.py" --kind "$kind" --host "$host_ref/$fmt.$kind.json" \
            --device "$out.json" --manifest "$WORK/models/manifest.json" --format "$fmt" --int8-steps "$steps" \
            --label "$board $venv $fmt $kind" || FAILURES=$((FAILURES + 1))
        done
      done
    done
    out=$WORK/device/$board/core/read-without-opencv
    if [ "$(cat "$out.status")" != 0 ] && grep -qiE 'opencv|\[camera\]' "$out.out"; then
      echo "OK   $board core read without OpenCV fails clearly: $(grep -iE -m1 'opencv|\[camera\]' "$out.out")"
    else
      echo "FAIL $board core read without OpenCV: exit $(cat "$out.status"), output does not name OpenCV/[camera]:"
      tail -3 "$out.out" | sed 's/^/       /'
      FAILURES=$((FAILURES + 1))
    fi
  done
}

host_main() {
  local t_start; t_start=$(now_ms)
  check_models
  mkdir -p "$CACHE"   # before anything logs into it: a fresh machine has no ~/.cache
  check_machine
  exec 9>"$CACHE/.pi-check.lock"
  flock -n 9 || die "another pi-check holds $CACHE/.pi-check.lock"
  ensure_binfmt
  build_rootfs
  refresh_rootfs
  local t0; t0=$(now_ms)
  prepare_work
  run_host
  local t_host; t_host=$(elapsed "$t0")
  t0=$(now_ms)
  unshare -m --propagation private bash "$0" __device "$WHEEL_NAME" \
    || die "device side failed (see above; logs in $WORK/device)"
  local t_device; t_device=$(elapsed "$t0")

  {
    echo "== pi-check: model $MODEL ($ARTIFACTS/$MODEL), Debian $SUITE arm64 under $(qemu-aarch64-static --version | head -1)"
    echo "rootfs $ROOTFS: $ROOTFS_STATE; Debian $(cat "$ROOTFS/etc/debian_version"); binfmt $BINFMT_INTERP flags $BINFMT_FLAGS"
    echo "inputs: $(sed -n 's/.*"frame_source": "\(.*\)".*/\1/p' "$WORK/inputs/inputs.json" | sed 's/^/frames /')," \
      "$(ls "$WORK/inputs/digits" | wc -l) digits, $(ls "$WORK/inputs/frames" | wc -l) frames"
    echo "-- emulated CPUs"; cat "$WORK/device/cpus.txt"
    echo "-- versions inside the rootfs"; cat "$WORK/device/versions.txt"
    echo "host: $("$HOST_VENV/bin/python" -c 'import importlib.metadata as md, platform; print("python", platform.python_version(), "; ".join(f"{n} {md.version(n)}" for n in ["numpy", "ai-edge-litert", "onnxruntime", "opencv-python-headless"]))')"
    echo "host tflite reference: $("$HOST_TFLITE_VENV/bin/python" -c 'import importlib.metadata as md; print("; ".join(f"{n} {md.version(n)}" for n in ["numpy", "tflite-runtime", "opencv-python-headless"]))')"
    echo "-- agreement (host x86 vs emulated Pi; the tflite venv against the same stack on the host)"
    compare_all
    echo "-- for information, not a pass/fail criterion: host ai-edge-litert vs host tflite_runtime"
    local fmt kind
    for fmt in $FORMATS_TFLITE; do
      for kind in predict read; do
        "$HOST_VENV/bin/python" "$PI_DIR/compare.py" --kind "$kind" --host "$WORK/host/default/$fmt.$kind.json" \
          --device "$WORK/host/tflite/$fmt.$kind.json" --manifest "$WORK/models/manifest.json" --format "$fmt" \
          --label "x86 litert vs x86 tflite_runtime $fmt $kind" --max-problems 1 | sed 's/^OK  /info/; s/^FAIL/info/' \
          || true
      done
    done
    echo "-- timings: host inputs+runs $t_host, device (venvs + runs) $t_device, total $(elapsed "$t_start")"
    sed 's/^/   /' "$WORK/device/timings.txt" | grep -E 'venv|exit=[^0]' || true
  } | tee "$WORK/report.txt"
  FAILURES=$(grep -c '^FAIL' "$WORK/report.txt" || true)
  if [ "$FAILURES" -gt 0 ]; then
    echo "pi-check: $FAILURES mismatch(es) or failure(s); full outputs in $WORK" >&2
    exit 1
  fi
  echo "pi-check: all device results agree with the host (report: $WORK/report.txt)"
}

host_main

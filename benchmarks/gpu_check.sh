#!/usr/bin/env bash
# GPU check (issue 15): one JSON file with Inception extraction images/s vs pytorch-fid on the
# same device (fp32, channels-last, AMP with measured feature deviation, torch.compile), FID from
# statistics in float64 on the device, a 2-process extraction matched against one process, and
# peak GPU memory. Runs in a few minutes on one CUDA GPU.
#
#   benchmarks/gpu_check.sh [OUT.json]          # needs a CUDA device
#   benchmarks/gpu_check.sh --cpu [OUT.json]    # CPU fallback, tiny sizes, gloo (what CI runs)
#
# Extra arguments after OUT are passed to benchmarks/gpu_check.py (e.g. --skip distributed).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(dirname "$here")"
mode=()
if [[ "${1:-}" == "--cpu" ]]; then mode=(--cpu); shift; fi
out="${1:-gpu_check.json}"
shift || true
python="${PYTHON:-python}"
if [[ ${#mode[@]} -eq 0 ]] && ! "$python" -c "import torch, sys; sys.exit(0 if torch.cuda.is_available() else 1)"; then
  echo "gpu_check.sh: no CUDA device visible to torch; run with --cpu for the CPU fallback" >&2
  exit 2
fi
cd "$root"
exec timeout "${GPU_CHECK_TIMEOUT:-290}" "$python" "$here/gpu_check.py" "${mode[@]}" --out "$out" "$@"

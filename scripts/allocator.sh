#!/usr/bin/env bash
# Sourced by scripts/main_job.sh: prints the malloc library to LD_PRELOAD for training, or nothing.
# tcmalloc (Debian: libtcmalloc-minimal4) lowered training's peak RSS at identical results (README,
# "bf16 without AMX, and the allocator"). DIPLOMAT_IE_ALLOCATOR=system keeps glibc; an LD_PRELOAD
# already set wins; a missing tcmalloc is said on stderr.
diplomat_allocator() {
  if [ "${DIPLOMAT_IE_ALLOCATOR:-tcmalloc}" = system ] || [ -n "${LD_PRELOAD:-}" ]; then
    return 0
  fi
  if [ "${DIPLOMAT_IE_ALLOCATOR:-tcmalloc}" != tcmalloc ]; then
    echo "DIPLOMAT_IE_ALLOCATOR must be tcmalloc or system, not '${DIPLOMAT_IE_ALLOCATOR}'" >&2
    return 2
  fi
  local lib
  lib=$( (ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null) | awk '/libtcmalloc_minimal\.so\.4 / {print $NF; exit}')
  if [ -n "$lib" ] && [ -f "$lib" ]; then
    echo "$lib"
  else
    echo "tcmalloc not found (Debian/Ubuntu: apt install libtcmalloc-minimal4): training with glibc malloc" >&2
  fi
}

#!/usr/bin/env bash
# Sourced by scripts/main_job.sh: prints the malloc library to LD_PRELOAD for training, or nothing.
# tcmalloc (Debian: libtcmalloc-minimal4) made training steps faster and peak RSS lower than glibc
# malloc (README, "Allocator"). DIPLOMAT_IE_ALLOCATOR=system keeps glibc; an LD_PRELOAD already set wins.
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
  fi
}

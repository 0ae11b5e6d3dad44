#!/usr/bin/env bash
# Lint the CloudFront/S3 CloudFormation template with cfn-lint (runs offline once installed).
#
#   bash www/deploy/cloudfront/lint.sh [extra cfn-lint args]
#
# cfn-lint is installed once, pinned, into <repo>/.cache/venv-cfn (ignored by git via /.cache).
# Preferred: a venv (`python3 -m venv`). Debian ships venv's pip bootstrap separately
# (python3-venv); without it `python3 -m venv` fails, and the script falls back to
# `python3 -m pip install --target` (needs python3-pip). With neither it says what to install.
# Environment: PYTHON (default python3), CFN_LINT_VENV (default <repo>/.cache/venv-cfn).
set -euo pipefail

CFN_LINT_VERSION=1.58.0

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../../.." && pwd)"
template="$here/template.yaml"
venv="${CFN_LINT_VENV:-$root/.cache/venv-cfn}"
py="${PYTHON:-python3}"

die() { echo "lint.sh: $*" >&2; exit 2; }

command -v "$py" >/dev/null 2>&1 ||
  die "$py not found; install it (Debian/Ubuntu: sudo apt-get install -y python3 python3-venv)"
[ -f "$template" ] || die "missing $template"

# The two layouts the install can produce; run cfn-lint from whichever exists.
run_cfn_lint() {
  if [ -x "$venv/bin/cfn-lint" ]; then
    "$venv/bin/cfn-lint" "$@"
  elif [ -d "$venv/target/cfnlint" ]; then
    # cfnlint has no __main__; call its console-script entry point (cfnlint.runner:main).
    PYTHONPATH="$venv/target" "$py" -c \
      'import sys; from cfnlint.runner import main; sys.argv[0] = "cfn-lint"; sys.exit(main())' "$@"
  else
    return 127
  fi
}

installed_version() {
  # `cfn-lint --version` prints "cfn-lint 1.58.0"
  run_cfn_lint --version 2>/dev/null | awk '{print $2}'
}

install_cfn_lint() {
  rm -rf "$venv"
  mkdir -p "$(dirname "$venv")"
  echo "lint.sh: installing cfn-lint==$CFN_LINT_VERSION into $venv" >&2
  if "$py" -m venv "$venv" >/dev/null 2>"$venv.log" && [ -x "$venv/bin/python" ]; then
    rm -f "$venv.log"
    "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
      "cfn-lint==$CFN_LINT_VERSION" ||
      die "pip install cfn-lint==$CFN_LINT_VERSION into the venv failed (no access to PyPI?)"
    return 0
  fi
  echo "lint.sh: '$py -m venv' failed ($(tail -n 1 "$venv.log" 2>/dev/null)); trying pip --target" >&2
  rm -rf "$venv" "$venv.log"
  if "$py" -m pip --version >/dev/null 2>&1; then
    # --target skips PEP 668's externally-managed check, so this also works with Debian's pip.
    "$py" -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
      --target "$venv/target" "cfn-lint==$CFN_LINT_VERSION" ||
      die "pip install --target failed (no access to PyPI?)"
    return 0
  fi
  die "cannot install cfn-lint: '$py -m venv' fails and pip is missing.
  Debian/Ubuntu: sudo apt-get install -y python3-venv   (or python3-pip), then rerun."
}

if [ "$(installed_version || true)" != "$CFN_LINT_VERSION" ]; then
  install_cfn_lint
  [ "$(installed_version || true)" = "$CFN_LINT_VERSION" ] ||
    die "cfn-lint $CFN_LINT_VERSION not runnable after install (got '$(installed_version || true)')"
fi

cd "$root"
echo "lint.sh: cfn-lint $CFN_LINT_VERSION www/deploy/cloudfront/template.yaml" >&2
set +e
run_cfn_lint "$@" -- "${template#"$root/"}"
status=$?
set -e
[ "$status" -eq 0 ] && echo "lint.sh: OK (no findings)" >&2
exit "$status"

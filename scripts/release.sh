#!/usr/bin/env bash
# `make release`: the deployable artefacts of this version, as `sam deploy` takes them.
#   - `sam build` of infra/template.yaml: every function built by cargo-lambda for arm64 (Amazon
#     Linux 2023), as the template declares (BuildMethod rust-cargolambda), into target/sam/;
#   - each bootstrap's size, against the 8,000,000-byte budget (a function over it fails);
#   - the packaged template: with PPX_RELEASE_BUCKET set, `sam package` uploads the code there and
#     writes target/sam/packaged.yaml (what `sam deploy --template-file` or CloudFormation takes);
#     without it, target/release-<version>/ holds one zip per function beside the built template.
# The tools live in their own virtualenv (.venv-release, pinned in scripts/requirements-release.txt).
set -euo pipefail
cd "$(dirname "$0")/.."

VERSION=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -n 1)
BUDGET=8000000
BUILD=target/sam
VENV=.venv-release

if ! { [ -x "$VENV/bin/sam" ] && cmp -s scripts/requirements-release.txt "$VENV/.installed-requirements"; }; then
  echo "release: installing aws-sam-cli and cargo-lambda into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check -r scripts/requirements-release.txt
  cp scripts/requirements-release.txt "$VENV/.installed-requirements"
fi
export PATH="$PWD/$VENV/bin:$PATH"

echo "release: ppx $VERSION, sam build (arm64, cargo-lambda)"
sam build --beta-features --template-file infra/template.yaml --build-dir "$BUILD" --base-dir infra

echo "release: bootstrap sizes (budget $BUDGET bytes)"
status=0
for dir in "$BUILD"/*Function; do
  size=$(stat -c %s "$dir/bootstrap")
  verdict=ok
  if [ "$size" -ge "$BUDGET" ]; then verdict=OVER; status=1; fi
  printf '  %-28s %10d bytes  %s\n' "$(basename "$dir")" "$size" "$verdict"
done

if [ -n "${PPX_RELEASE_BUCKET:-}" ]; then
  sam package --template-file "$BUILD/template.yaml" --s3-bucket "$PPX_RELEASE_BUCKET" \
    --s3-prefix "ppx/$VERSION" --output-template-file "$BUILD/packaged.yaml"
  echo "release: $BUILD/packaged.yaml (code in s3://$PPX_RELEASE_BUCKET/ppx/$VERSION)"
else
  out="target/release-$VERSION"
  rm -rf "$out" && mkdir -p "$out"
  for dir in "$BUILD"/*Function; do
    (cd "$dir" && python3 -c 'import sys, zipfile; z = zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED); z.write("bootstrap"); z.close()' "$OLDPWD/$out/$(basename "$dir").zip")
  done
  cp "$BUILD/template.yaml" "$out/template.yaml"
  echo "release: $out/ (one zip per function and the built template; set PPX_RELEASE_BUCKET to package for S3)"
fi
exit "$status"

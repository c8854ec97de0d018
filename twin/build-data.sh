#!/usr/bin/env bash
# Builds what `make e2e-data` runs, once per version, into the twin's cache:
#   minio-<version>/bin/minio           MinIO from the Go module proxy (twin/go/minio/go.mod)
#   spark-<version>/site/pyspark        pyspark from PyPI, its jars/ completed with S3A and the
#                                       AWS SDK the POM in twin/spark/<version>/ resolves
#   spark-<version>/hadoop-cloud/       spark-hadoop-cloud, kept apart (added only when asked)
# One directory per Spark version under twin/spark/; bumping a version there or in go.mod builds
# the new one beside the old. Each component is built in a directory of its own and renamed into
# place when complete, under a lock of its own, so twin/build.sh can run at the same time.
set -euo pipefail

TWIN_DIR="$(cd "$(dirname "$0")" && pwd)"
# shellcheck source=twin/lib.sh
source "$TWIN_DIR/lib.sh"

build_setup

# cached NAME BUILD: runs BUILD TMPDIR unless $TWIN_CACHE/NAME is complete, then renames TMPDIR
# into place. Temporary directories are ".part-*", which twin/build.sh leaves alone.
cached() {
	local name=$1 build=$2 dest="$TWIN_CACHE/$1" tmp
	[[ -f $dest/.complete ]] && return 0
	exec 8>"$TWIN_CACHE/.lock-$name"
	flock 8
	if [[ ! -f $dest/.complete ]]; then
		rm -rf "$TWIN_CACHE/.part-$name-"*
		tmp=$(mktemp -d "$TWIN_CACHE/.part-$name-XXXXXX")
		"$build" "$tmp"
		touch "$tmp/.complete"
		rm -rf "$dest"
		mv -T "$tmp" "$dest"
	fi
	exec 8>&-
}

build_minio() {
	log "building minio $(component_version minio) (cold cache, ~4 min)"
	mkdir -p "$1/bin"
	(cd "$TWIN_DIR/go/minio" && go build -trimpath -ldflags="-s -w" -o "$1/bin/" github.com/minio/minio)
}

spark_version=""
build_spark() {
	local site="$1/site"
	log "installing pyspark $spark_version and its S3A jars (cold cache, ~3 min, ~300-500 MB)"
	"$UV" pip install --quiet --python python3.11 --target "$site" "pyspark==$spark_version"
	# Maven resolves and checks (-C: strict checksums) what the POM pins; nothing is built.
	(cd "$TWIN_DIR/spark/$spark_version" && mvn -q -B -C -Dstyle.color=never generate-resources -Dout="$1/maven")
	mv "$1"/maven/jars/*.jar "$site/pyspark/jars/"
	if [[ -d $1/maven/hadoop-cloud ]]; then
		mv "$1/maven/hadoop-cloud" "$1/hadoop-cloud"
	fi
	rm -rf "$1/maven"
}

cached "minio-$(component_version minio)" build_minio
for pom in "$TWIN_DIR"/spark/*/pom.xml; do
	spark_version=$(basename "$(dirname "$pom")")
	cached "spark-$spark_version" build_spark
done
log "data-path components ready in $TWIN_CACHE"

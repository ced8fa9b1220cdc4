# package.bash: what the package tests share (load package). They run in the throwaway
# world with AU_WORLD_PACKAGES=1 (tools/run-checks does it): /usr and /var are writable
# copies there, so that apt-get installs the .deb for the world only, and au is not
# installed at /opt/au.

load ../integration/helpers

# Where the .deb is built and found: tools/run-checks passes BUILDDIR/deb.
AU_DEB_DIR=${AU_DEB_DIR:-$AU_REPO/build-deb}

require_package_world() {
	require_world
	[[ $AU_PREFIX == /usr && -z $(findmnt -n -o FSTYPE /usr | grep -vx overlay) ]] ||
		fail "the package tests need the world of AU_WORLD_PACKAGES=1 (tools/run-checks)"
}

# The package that tools/build-deb made, building it when there is none.
the_deb() {
	local deb
	deb=$(compgen -G "$AU_DEB_DIR/au_*.deb" | head -n 1 || true)
	if [[ -z $deb ]]; then
		"$AU_REPO/tools/build-deb" "$AU_DEB_DIR" >&2 || return 1
		deb=$(compgen -G "$AU_DEB_DIR/au_*.deb" | head -n 1)
	fi
	echo "$deb"
}

# apt_install DEB...: what a user types, from a folder apt's sandbox user can read.
apt_install() {
	local dir deb
	dir=$(mktemp -d /tmp/debs.XXXXXX)
	chmod 0755 "$dir"
	for deb in "$@"; do
		cp "$deb" "$dir/"
		chmod 0644 "$dir/${deb##*/}"
	done
	(cd "$dir" && apt-get install -y -q --no-install-recommends "${@/#*\//./}") </dev/null
}

# build_variant OUTDIR VERSION [CHANGE]: the package of this tree as version VERSION,
# after CHANGE (a shell command run in a copy of the tree), without its unit tests.
build_variant() {
	local out=$1 version=$2 change=${3:-true} tree
	tree=$(mktemp -d /tmp/variant.XXXXXX)
	git -C "$AU_REPO" ls-files -z --cached --others --exclude-standard |
		(cd "$AU_REPO" && xargs -0 cp --parents -P -t "$tree" --)
	(
		cd "$tree"
		eval "$change"
		{
			echo "au ($version) unstable; urgency=medium"
			echo
			echo "  * A variant built by the package tests."
			echo
			echo " -- au maintainers <au@users.noreply.github.com>  $(date -R)"
			echo
			cat debian/changelog
		} >debian/changelog.new
		mv debian/changelog.new debian/changelog
		DEB_BUILD_OPTIONS=nocheck tools/build-deb "$out"
	) >&2
	rm -rf "$tree"
	compgen -G "$out/au_${version}_*.deb"
}

# repack_as DEB VERSION OUTDIR: the same package under a newer version, what an upgrade
# that changes none of au's files is to dpkg (meson's project version and the sources
# are the same, so a rebuild would give the same files).
repack_as() {
	local deb=$1 version=$2 out=$3 tree
	tree=$(mktemp -d /tmp/repack.XXXXXX)
	dpkg-deb -R "$deb" "$tree/au"
	sed -i "s/^Version: .*/Version: $version/" "$tree/au/DEBIAN/control"
	dpkg-deb --root-owner-group -b "$tree/au" "$out/au_${version}_$(dpkg --print-architecture).deb" >&2
	rm -rf "$tree"
	echo "$out/au_${version}_$(dpkg --print-architecture).deb"
}

purge_au() {
	dpkg --purge au >/dev/null 2>&1 || true
}

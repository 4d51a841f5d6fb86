# Shared by the cluster/ops scripts (sourced, not run). Every change they make goes
# through put_file / ensure_dir / ensure_symlink / run_cmd below, so three modes behave
# the same way everywhere:
#   real       (no --root): changes this machine; needs root
#   --root DIR writes into the staging tree DIR instead of /; runs no system command
#              (useradd, sysctl, systemctl, nft, nginx reload) and sets no owner
#   --dry-run  prints what it would do and changes nothing (with or without --root)
# Each step compares what is there with what should be and says "ok" when it is already in
# place, so a second run changes nothing and says so.
if [[ "${BASH_SOURCE[0]}" == "$0" ]]; then
    echo "cluster/ops/lib.sh is sourced by the cluster/ops scripts; run one of them (--help)" >&2
    exit 2
fi

OPS_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO_ROOT="$(cd "$OPS_DIR/../.." && pwd)"
ROOT=""          # "" = the real /
DRY_RUN=0
CHANGED=0        # steps that changed (or, in a dry run, would change) something
IN_PLACE=0       # steps already in place
LAST_CHANGED=0   # whether the latest step changed something (to run a reload only then)
PROG="${PROG:-ops}"
OPS_TMP="$(mktemp -d)"
trap 'rm -rf "$OPS_TMP"' EXIT

die() { echo "$PROG: $*" >&2; exit 1; }
usage_error() { echo "$PROG: $*" >&2; echo "run '$PROG --help' for the options" >&2; exit 2; }
# OPTION VALUE...: the option must be followed by a value (not another option).
need_value() { [[ $# -ge 2 && -n "$2" && "$2" != --* ]] || usage_error "$1 needs a value"; }
say() { printf '%s: %s\n' "$PROG" "$*"; }

# Handles --root DIR and --dry-run; call with the script's remaining "$@" after its own
# options were taken out, or call ops_option for each argument in the script's loop.
ops_set_root() {
    [[ -d "$1" ]] || usage_error "--root: $1 is not a directory"
    ROOT="$(cd "$1" && pwd)"
    [[ "$ROOT" != "/" ]] || ROOT=""
}
ops_check_mode() {
    if [[ -z "$ROOT" && $DRY_RUN -eq 0 && $(id -u) -ne 0 ]]; then
        die "changing this machine needs root (or stage into a tree with --root DIR, or --dry-run)"
    fi
}
mode_name() {
    local m="real"
    [[ -n "$ROOT" ]] && m="tree $ROOT"
    ((DRY_RUN)) && m="dry run, $m"
    echo "$m"
}

# The path of an absolute target path in the tree being changed.
at() { printf '%s%s' "$ROOT" "$1"; }

_changed() { CHANGED=$((CHANGED + 1)); LAST_CHANGED=1; }
_in_place() { IN_PLACE=$((IN_PLACE + 1)); LAST_CHANGED=0; }

# Owner USER:GROUP applies on the real machine only: a staging tree is written by whoever
# runs the check, and its users need not exist there.
_owner_differs() {   # PATH OWNER
    [[ -z "$ROOT" && -n "$2" ]] || return 1
    [[ "$(stat -c %U:%G "$1")" != "$2" ]]
}
_apply_owner() {     # PATH OWNER
    [[ -z "$ROOT" && -n "$2" ]] || return 0
    chown "$2" "$1"
}

# ensure_dir DIR MODE [OWNER]
ensure_dir() {
    local dir="$1" mode="$2" owner="${3:-}" p shown=""
    p="$(at "$dir")"
    [[ -z "$ROOT" && -n "$owner" ]] && shown=", $owner"
    if [[ -d "$p" && "$(stat -c %a "$p")" == "${mode#0}" ]] && ! _owner_differs "$p" "$owner"; then
        say "ok       $dir (directory, $mode)"; _in_place; return
    fi
    _changed
    if ((DRY_RUN)); then say "would    create or fix directory $dir ($mode$shown)"; return; fi
    mkdir -p "$p"
    chmod "$mode" "$p"
    _apply_owner "$p" "$owner"
    say "changed  $dir (directory, $mode$shown)"
}

# put_file DEST MODE SRC [OWNER]: DEST gets SRC's bytes and MODE.
put_file() {
    local dest="$1" mode="$2" src="$3" owner="${4:-}" p why=""
    p="$(at "$dest")"
    if [[ -f "$p" && ! -L "$p" ]]; then
        cmp -s "$src" "$p" || why="content"
        [[ "$(stat -c %a "$p")" == "${mode#0}" ]] || why="${why:+$why, }mode"
        _owner_differs "$p" "$owner" && why="${why:+$why, }owner"
        if [[ -z "$why" ]]; then say "ok       $dest"; _in_place; return; fi
    else
        why="new"
    fi
    _changed
    if ((DRY_RUN)); then say "would    write $dest ($why)"; return; fi
    mkdir -p "$(dirname "$p")"
    # Written beside the target and renamed over it: a reader never sees half a file.
    local tmp
    tmp="$(mktemp "$(dirname "$p")/.$(basename "$p").XXXXXX")"
    cat "$src" > "$tmp"
    chmod "$mode" "$tmp"
    _apply_owner "$tmp" "$owner"
    mv -f "$tmp" "$p"
    say "changed  $dest ($why)"
}

# put_text DEST MODE [OWNER] < content
put_text() {
    local src="$OPS_TMP/text.$RANDOM$RANDOM"
    cat > "$src"
    put_file "$1" "$2" "$src" "${3:-}"
}

# ensure_symlink LINK TARGET (TARGET as the link should read, absolute on the real machine)
ensure_symlink() {
    local link="$1" target="$2" p
    p="$(at "$link")"
    if [[ -L "$p" && "$(readlink "$p")" == "$target" ]]; then say "ok       $link -> $target"; _in_place; return; fi
    [[ -e "$p" && ! -L "$p" ]] && die "$link exists and is not a symbolic link; move it away first"
    _changed
    if ((DRY_RUN)); then say "would    link $link -> $target"; return; fi
    mkdir -p "$(dirname "$p")"
    ln -sfn "$target" "$p"
    say "changed  $link -> $target"
}

# run_cmd DESCRIPTION COMMAND...: a command that acts on the running system.
run_cmd() {
    local what="$1"; shift
    if ((DRY_RUN)); then say "would    run: $*  ($what)"; return; fi
    if [[ -n "$ROOT" ]]; then say "skipped  (staging tree) $*  ($what)"; return; fi
    say "running  $*  ($what)"
    "$@"
}

summary() {
    if ((DRY_RUN)); then
        say "$(mode_name): $CHANGED step(s) would change, $IN_PLACE already in place; nothing was written"
    elif ((CHANGED)); then
        say "done ($(mode_name)): $CHANGED step(s) changed, $IN_PLACE already in place"
    else
        say "done ($(mode_name)): nothing to change, all $IN_PLACE step(s) already in place"
    fi
}

# --- validation helpers: each prints nothing and fails naming the option ----------------
check_port() {   # OPTION VALUE
    [[ "$2" =~ ^[1-9][0-9]{0,4}$ ]] && (($2 <= 65535)) || usage_error "$1 must be a TCP port (1-65535), got '$2'"
}
is_ipv4() {
    local IFS=. a
    [[ "$1" =~ ^[0-9]{1,3}(\.[0-9]{1,3}){3}$ ]] || return 1
    for a in $1; do ((10#$a <= 255)) || return 1; done
}
is_ipv6() { [[ "$1" == *:* && "$1" =~ ^[0-9A-Fa-f:.]+$ && "$1" != *:::* ]]; }
# check_addr OPTION VALUE [cidr]: an IPv4/IPv6 address, with a /prefix when "cidr" allows it.
check_addr() {
    local opt="$1" v="$2" allow_prefix="${3:-}" host prefix=""
    host="${v%%/*}"
    if [[ "$v" == */* ]]; then
        [[ -n "$allow_prefix" ]] || usage_error "$opt takes an address without /prefix, got '$v'"
        prefix="${v#*/}"
        [[ "$prefix" =~ ^[0-9]{1,3}$ ]] || usage_error "$opt: bad prefix in '$v'"
    fi
    if is_ipv4 "$host"; then
        [[ -z "$prefix" ]] || ((10#$prefix <= 32)) || usage_error "$opt: an IPv4 prefix is at most /32, got '$v'"
    elif is_ipv6 "$host"; then
        [[ -z "$prefix" ]] || ((10#$prefix <= 128)) || usage_error "$opt: an IPv6 prefix is at most /128, got '$v'"
    else
        usage_error "$opt must be an IPv4 or IPv6 address${allow_prefix:+ or CIDR}, got '$v'"
    fi
}
check_dns_name() {   # OPTION VALUE
    [[ "$2" =~ ^[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?(\.[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$ && ${#2} -le 253 ]] \
        || usage_error "$1 must be a DNS name, got '$2'"
}

# --- chain adapters -------------------------------------------------------------------
# load_chain NAME: reads cluster/ops/chains/NAME.env, a file of KEY=VALUE lines (not
# sourced: only the keys below are taken, and only values of a plain character set, so an
# adapter file cannot run anything) into CHAIN_* variables.
CHAIN_KEYS=(CHAIN_SLUG CHAIN_ID CHAIN_ADAPTER CHAIN_PARENT CHAIN_UPSTREAM CHAIN_BLOCK_SECONDS CHAIN_FINALITY_BLOCKS CHAIN_LAG_ALERT_BLOCKS)
load_chain() {
    local name="$1" file line key value n=0 k
    [[ "$name" =~ ^[a-z0-9][a-z0-9-]{0,62}$ ]] || usage_error "--chain must be an adapter name (a-z, 0-9, -), got '$name'"
    file="$OPS_DIR/chains/$name.env"
    [[ -f "$file" ]] || usage_error "--chain: no adapter $file (known: $(cd "$OPS_DIR/chains" && ls *.env 2>/dev/null | sed 's/\.env$//' | tr '\n' ' '))"
    for k in "${CHAIN_KEYS[@]}"; do unset "$k"; done
    CHAIN_FILE="$file"
    while IFS= read -r line || [[ -n "$line" ]]; do
        n=$((n + 1))
        [[ "$line" =~ ^[[:space:]]*(#.*)?$ ]] && continue
        [[ "$line" =~ ^([A-Z_]+)=(.*)$ ]] || die "$file:$n: expected KEY=VALUE"
        key="${BASH_REMATCH[1]}"; value="${BASH_REMATCH[2]}"
        [[ " ${CHAIN_KEYS[*]} " == *" $key "* ]] || die "$file:$n: unknown key $key (known: ${CHAIN_KEYS[*]})"
        [[ "$value" =~ ^[A-Za-z0-9._:/?=%+@-]*$ ]] || die "$file:$n: $key holds characters outside A-Z a-z 0-9 . _ : / ? = % + @ -"
        printf -v "$key" '%s' "$value"
    done < "$file"
    for k in CHAIN_SLUG CHAIN_ID CHAIN_ADAPTER CHAIN_UPSTREAM CHAIN_BLOCK_SECONDS CHAIN_FINALITY_BLOCKS CHAIN_LAG_ALERT_BLOCKS; do
        [[ -n "${!k:-}" ]] || die "$file: $k is required"
    done
    CHAIN_PARENT="${CHAIN_PARENT:-}"
    [[ "$CHAIN_SLUG" =~ ^[a-z0-9][a-z0-9-]*$ ]] || die "$file: CHAIN_SLUG must be a-z, 0-9 and -"
    for k in CHAIN_ID CHAIN_BLOCK_SECONDS CHAIN_FINALITY_BLOCKS CHAIN_LAG_ALERT_BLOCKS; do
        [[ "${!k}" =~ ^[1-9][0-9]*$ ]] || die "$file: $k must be a positive integer"
    done
    [[ -z "$CHAIN_PARENT" || "$CHAIN_PARENT" =~ ^[1-9][0-9]*$ ]] || die "$file: CHAIN_PARENT must be a chain id or empty"
    [[ " ethereum op-stack arbitrum custom " == *" $CHAIN_ADAPTER "* ]] || die "$file: CHAIN_ADAPTER must be ethereum, op-stack, arbitrum or custom"
    [[ "$CHAIN_UPSTREAM" =~ ^https?:// ]] || die "$file: CHAIN_UPSTREAM must be an http(s):// URL (a placeholder is fine)"
}

//! Permission checks on the namespace, as HDFS's FSPermissionChecker makes them: owner, group
//! and other `rwx` bits, the sticky bit, execute on every directory traversed, the access an
//! operation needs on the path, its parent, its nearest existing ancestor and its subtree; the
//! superuser passes every check. Refusals carry HDFS's message shape.

use crate::error::{NnError, NnResult};
use crate::namespace::{components, Inode, InodeId, Kind, Namespace};
use common::auth::Identity;
use std::fmt;

/// The sticky bit: in such a directory only an entry's owner, the directory's owner or the
/// superuser may delete or rename the entry.
pub const STICKY: u16 = 0o1000;

/// A set of `rwx` permissions, as HDFS's `FsAction`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Access(u8);

impl Access {
    pub const READ: Access = Access(4);
    pub const WRITE: Access = Access(2);
    pub const EXECUTE: Access = Access(1);
    pub const READ_EXECUTE: Access = Access(5);
    pub const WRITE_EXECUTE: Access = Access(3);
    pub const ALL: Access = Access(7);

    fn bits(self) -> u16 {
        self.0 as u16
    }
}

impl fmt::Display for Access {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // HDFS's FsAction names, so a refusal reads the same as Hadoop's.
        f.write_str(match self.0 {
            0 => "NONE",
            1 => "EXECUTE",
            2 => "WRITE",
            3 => "WRITE_EXECUTE",
            4 => "READ",
            5 => "READ_EXECUTE",
            6 => "READ_WRITE",
            _ => "ALL",
        })
    }
}

/// Who a check is made for: the caller's user and groups, and whether it is a superuser (or
/// the namenode runs without checks, in insecure mode).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subject {
    pub user: String,
    pub groups: Vec<String>,
    pub superuser: bool,
}

impl Subject {
    /// An ordinary user, checked against every permission.
    pub fn user(user: impl Into<String>, groups: &[&str]) -> Subject {
        Subject {
            user: user.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            superuser: false,
        }
    }

    /// A caller that passes every check.
    pub fn superuser(user: impl Into<String>) -> Subject {
        Subject {
            user: user.into(),
            groups: Vec::new(),
            superuser: true,
        }
    }

    /// The subject of a verified identity. The superuser is the namenode's own OS user
    /// (`nn_user`), a member of `supergroup`, or a cluster daemon; `unchecked` (insecure mode)
    /// makes everyone pass, as HDFS with `dfs.permissions.enabled = false`.
    pub fn of(id: &Identity, nn_user: &str, supergroup: &str, unchecked: bool) -> Subject {
        let superuser = unchecked
            || id.service
            || id.user == nn_user
            || (!supergroup.is_empty() && id.groups.iter().any(|g| g == supergroup));
        Subject {
            user: id.user.clone(),
            groups: id.groups.clone(),
            superuser,
        }
    }

    pub fn in_group(&self, group: &str) -> bool {
        self.groups.iter().any(|g| g == group)
    }
}

/// What an operation needs, as the arguments of HDFS's `checkPermission`: execute on every
/// directory traversed is always checked.
#[derive(Clone, Copy, Debug, Default)]
pub struct Need {
    /// The caller must own the inode (chmod, chown).
    pub owner: bool,
    /// On the nearest existing ancestor (what mkdirs and create-with-parents add to).
    pub ancestor: Option<Access>,
    /// On the parent directory (create, delete, rename); with WRITE, the sticky bit applies.
    pub parent: Option<Access>,
    /// On the inode itself.
    pub access: Option<Access>,
    /// On every directory of the subtree (recursive delete, content summary).
    pub sub: Option<Access>,
    /// `sub` skips empty directories (delete: an empty directory can go whatever its mode).
    pub ignore_empty_dir: bool,
}

/// `mode` as `ls` shows it: 9 `rwx` characters, with `t`/`T` for the sticky bit.
pub fn mode_string(mode: u16) -> String {
    let mut s = String::with_capacity(9);
    for shift in [6, 3, 0] {
        let b = (mode >> shift) & 7;
        s.push(if b & 4 != 0 { 'r' } else { '-' });
        s.push(if b & 2 != 0 { 'w' } else { '-' });
        s.push(if b & 1 != 0 { 'x' } else { '-' });
    }
    if mode & STICKY != 0 {
        let x = s.pop() == Some('x');
        s.push(if x { 't' } else { 'T' });
    }
    s
}

/// The existing prefix of `path`: the path and inode of the root and of each component found,
/// and how many components the full path has (plus one, for the root).
fn resolve(ns: &Namespace, path: &str) -> NnResult<(Vec<(String, InodeId)>, usize)> {
    let comps = components(path)?;
    let mut out = vec![("/".to_string(), crate::namespace::ROOT)];
    let mut cur = crate::namespace::ROOT;
    let mut so_far = String::new();
    for c in &comps {
        let next = match &ns.inode(cur)?.kind {
            Kind::Dir(ch) => ch.get(*c).copied(),
            // A file in the middle of the path: the operation fails on it, not on permissions.
            Kind::File(_) => None,
        };
        let Some(next) = next else { break };
        so_far.push('/');
        so_far.push_str(c);
        out.push((so_far.clone(), next));
        cur = next;
    }
    Ok((out, comps.len() + 1))
}

fn denied(ns: &Namespace, who: &Subject, access: Access, path: &str, inode: &Inode) -> NnError {
    NnError::PermissionDenied(format!(
        "user={}, access={access}, path={path} ({} {}:{})",
        who.user,
        mode_string(inode.mode),
        ns.name(inode.owner),
        ns.name(inode.group)
    ))
}

/// Checks `access` on one inode with the bits of the class the subject falls in (owner, else
/// group, else other: an owner is refused by the owner bits even when others may).
pub fn check_inode(
    ns: &Namespace,
    who: &Subject,
    path: &str,
    inode: &Inode,
    access: Access,
) -> NnResult<()> {
    if who.superuser {
        return Ok(());
    }
    let bits = if ns.name(inode.owner) == who.user {
        inode.mode >> 6
    } else if who.in_group(ns.name(inode.group)) {
        inode.mode >> 3
    } else {
        inode.mode
    } & 7;
    if bits & access.bits() == access.bits() {
        Ok(())
    } else {
        Err(denied(ns, who, access, path, inode))
    }
}

/// The caller owns `inode` (or is the superuser).
pub fn check_owner(ns: &Namespace, who: &Subject, path: &str, inode: &Inode) -> NnResult<()> {
    if who.superuser || ns.name(inode.owner) == who.user {
        return Ok(());
    }
    Err(NnError::PermissionDenied(format!(
        "user={}, access=OWNER, path={path} ({} {}:{}): only the owner or the superuser may do this",
        who.user,
        mode_string(inode.mode),
        ns.name(inode.owner),
        ns.name(inode.group)
    )))
}

/// HDFS's checkPermission: execute on every existing directory up to the nearest existing
/// ancestor, then what `need` asks for. A missing inode is not checked (the operation reports
/// "not found" itself).
pub fn check(ns: &Namespace, who: &Subject, path: &str, need: Need) -> NnResult<()> {
    if who.superuser {
        return Ok(());
    }
    let (found, len) = resolve(ns, path)?;
    let exists = found.len() == len;
    // The nearest existing ancestor: the parent when the path exists, else the deepest found.
    let ancestor = if exists {
        len.saturating_sub(2)
    } else {
        found.len() - 1
    };
    for (p, id) in &found[..=ancestor.min(found.len() - 1)] {
        let inode = ns.inode(*id)?;
        if matches!(inode.kind, Kind::Dir(_)) && !(exists && len == 1) {
            check_inode(ns, who, p, inode, Access::EXECUTE)?;
        }
    }
    if let Some(a) = need.ancestor {
        let (p, id) = &found[ancestor];
        check_inode(ns, who, p, ns.inode(*id)?, a)?;
    }
    if let Some(a) = need.parent {
        // The parent exists only when the path (less its last component) was found.
        if len >= 2 && found.len() >= len - 1 {
            let (pp, pid) = &found[len - 2];
            let parent = ns.inode(*pid)?;
            check_inode(ns, who, pp, parent, a)?;
            if a.bits() & Access::WRITE.bits() != 0 && exists {
                let (p, id) = &found[len - 1];
                check_sticky(ns, who, pp, parent, p, ns.inode(*id)?)?;
            }
        }
    }
    if !exists {
        return Ok(());
    }
    let (p, id) = &found[len - 1];
    let inode = ns.inode(*id)?;
    if need.owner {
        check_owner(ns, who, p, inode)?;
    }
    if let Some(a) = need.access {
        check_inode(ns, who, p, inode, a)?;
    }
    if let Some(a) = need.sub {
        check_subtree(ns, who, p, a, need.ignore_empty_dir)?;
    }
    Ok(())
}

/// In a sticky directory only the entry's owner or the directory's owner may remove it.
fn check_sticky(
    ns: &Namespace,
    who: &Subject,
    parent_path: &str,
    parent: &Inode,
    path: &str,
    inode: &Inode,
) -> NnResult<()> {
    if parent.mode & STICKY == 0
        || ns.name(parent.owner) == who.user
        || ns.name(inode.owner) == who.user
    {
        return Ok(());
    }
    Err(NnError::PermissionDenied(format!(
        "user={}, access=WRITE, path={path} ({} {}:{}): the sticky bit of {parent_path} ({} {}:{}) lets only the owner of an entry or of the directory remove it",
        who.user,
        mode_string(inode.mode),
        ns.name(inode.owner),
        ns.name(inode.group),
        mode_string(parent.mode),
        ns.name(parent.owner),
        ns.name(parent.group)
    )))
}

/// `access` on every directory of the subtree at `path` (HDFS's subAccess), parents first.
fn check_subtree(
    ns: &Namespace,
    who: &Subject,
    path: &str,
    access: Access,
    ignore_empty_dir: bool,
) -> NnResult<()> {
    ns.walk(path, |p, inode| match &inode.kind {
        Kind::Dir(ch) if !(ignore_empty_dir && ch.is_empty()) => {
            check_inode(ns, who, p, inode, access)
        }
        _ => Ok(()),
    })
}

/// Who may change an inode's owner and group: only the superuser gives it to another user;
/// its owner may change its group to one the owner belongs to.
pub fn check_set_owner(
    ns: &Namespace,
    who: &Subject,
    path: &str,
    owner: Option<&str>,
    group: Option<&str>,
) -> NnResult<()> {
    check(
        ns,
        who,
        path,
        Need {
            owner: true,
            ..Need::default()
        },
    )?;
    if who.superuser {
        return Ok(());
    }
    if owner.is_some_and(|o| o != who.user) {
        return Err(NnError::PermissionDenied(format!(
            "user={}, access=OWNER, path={path}: only the superuser may give a file to another user",
            who.user
        )));
    }
    if let Some(g) = group {
        if !who.in_group(g) {
            return Err(NnError::PermissionDenied(format!(
                "user={}, access=OWNER, path={path}: {} does not belong to group {g} (a user may change a group only to one of their own)",
                who.user, who.user
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::namespace::{Edit, Perm};

    fn perm(owner: &str, group: &str, mode: u16) -> Perm {
        Perm {
            owner: owner.into(),
            group: group.into(),
            mode,
        }
    }

    fn mkdir(ns: &mut Namespace, path: &str, p: Perm) {
        ns.apply(&Edit::Mkdirs {
            path: path.into(),
            perm: p,
            mtime: 1,
        })
        .expect("mkdirs");
    }

    fn touch(ns: &mut Namespace, path: &str, p: Perm) {
        ns.apply(&Edit::Create {
            path: path.into(),
            perm: p,
            mtime: 1,
            replication: 1,
            block_size: 1 << 20,
            client: "c".into(),
        })
        .expect("create");
    }

    /// `/user` (root 0755), `/user/alice` (alice:staff 0750), `/user/alice/secret.txt` (0600),
    /// `/user/alice/pub.txt` (0644), `/tmp` (1777).
    fn tree() -> Namespace {
        let mut ns = Namespace::new();
        mkdir(&mut ns, "/user", perm("root", "supergroup", 0o755));
        mkdir(&mut ns, "/user/alice", perm("alice", "staff", 0o750));
        touch(
            &mut ns,
            "/user/alice/secret.txt",
            perm("alice", "staff", 0o600),
        );
        touch(
            &mut ns,
            "/user/alice/pub.txt",
            perm("alice", "staff", 0o644),
        );
        mkdir(&mut ns, "/tmp", perm("root", "supergroup", 0o1777));
        touch(&mut ns, "/tmp/a", perm("alice", "staff", 0o644));
        ns
    }

    fn read() -> Need {
        Need {
            access: Some(Access::READ),
            ..Need::default()
        }
    }

    fn parent_write() -> Need {
        Need {
            parent: Some(Access::WRITE),
            ..Need::default()
        }
    }

    fn refusal(r: NnResult<()>) -> String {
        match r {
            Err(e @ NnError::PermissionDenied(_)) => {
                assert_eq!(e.reason(), proto::Reason::PermissionDenied);
                e.to_string()
            }
            other => panic!("expected a permission refusal, got {other:?}"),
        }
    }

    #[test]
    fn the_mode_string_shows_rwx_and_the_sticky_bit() {
        assert_eq!(mode_string(0o600), "rw-------");
        assert_eq!(mode_string(0o755), "rwxr-xr-x");
        assert_eq!(mode_string(0o1777), "rwxrwxrwt");
        assert_eq!(mode_string(0o1776), "rwxrwxrwT");
        assert_eq!(Access::READ_EXECUTE.to_string(), "READ_EXECUTE");
    }

    #[test]
    fn owner_group_and_other_bits_each_apply_to_their_class() {
        let ns = tree();
        let alice = Subject::user("alice", &["staff"]);
        let carol = Subject::user("carol", &["staff"]);
        let bob = Subject::user("bob", &["bob"]);
        check(&ns, &alice, "/user/alice/secret.txt", read()).expect("the owner reads");
        check(&ns, &carol, "/user/alice/pub.txt", read()).expect("the group reads 0644");
        let e = refusal(check(&ns, &carol, "/user/alice/secret.txt", read()));
        assert_eq!(
            e,
            "permission denied: user=carol, access=READ, path=/user/alice/secret.txt (rw------- alice:staff)"
        );
        // bob is other: no execute on /user/alice (0750), refused while traversing.
        let e = refusal(check(&ns, &bob, "/user/alice/pub.txt", read()));
        assert_eq!(
            e,
            "permission denied: user=bob, access=EXECUTE, path=/user/alice (rwxr-x--- alice:staff)"
        );
        // The owner class decides for the owner, even when others may.
        let mut ns = tree();
        touch(&mut ns, "/tmp/odd", perm("alice", "staff", 0o044));
        refusal(check(&ns, &alice, "/tmp/odd", read()));
        check(&ns, &carol, "/tmp/odd", read()).expect("group may");
    }

    #[test]
    fn write_on_the_parent_guards_create_delete_and_rename() {
        let ns = tree();
        let bob = Subject::user("bob", &[]);
        let carol = Subject::user("carol", &["staff"]);
        // Creating inside /user/alice: group has r-x only.
        let e = refusal(check(&ns, &carol, "/user/alice/new", parent_write()));
        assert!(
            e.contains("access=WRITE, path=/user/alice (rwxr-x--- alice:staff)"),
            "{e}"
        );
        refusal(check(&ns, &carol, "/user/alice/pub.txt", parent_write()));
        check(
            &ns,
            &Subject::user("alice", &[]),
            "/user/alice/pub.txt",
            parent_write(),
        )
        .expect("alice deletes in her directory");
        // mkdir -p below a directory bob cannot write: the nearest existing ancestor counts.
        let need = Need {
            ancestor: Some(Access::WRITE),
            ..Need::default()
        };
        let e = refusal(check(&ns, &bob, "/user/bob/x/y", need));
        assert!(e.contains("path=/user (rwxr-xr-x root:supergroup)"), "{e}");
        check(&ns, &bob, "/tmp/bob/x", need).expect("/tmp is world-writable");
    }

    #[test]
    fn a_sticky_directory_lets_only_owners_remove_entries() {
        let ns = tree();
        let bob = Subject::user("bob", &[]);
        let e = refusal(check(&ns, &bob, "/tmp/a", parent_write()));
        assert!(e.contains("user=bob, access=WRITE, path=/tmp/a"), "{e}");
        assert!(e.contains("sticky bit of /tmp (rwxrwxrwt"), "{e}");
        check(&ns, &Subject::user("alice", &[]), "/tmp/a", parent_write())
            .expect("the entry's owner");
        check(&ns, &Subject::user("root", &[]), "/tmp/a", parent_write())
            .expect("the directory's owner");
        check(&ns, &bob, "/tmp/new", parent_write()).expect("anyone creates in /tmp");
        check(&ns, &Subject::superuser("admin"), "/tmp/a", parent_write()).expect("superuser");
    }

    #[test]
    fn recursive_delete_needs_write_and_execute_on_every_non_empty_subdirectory() {
        let mut ns = Namespace::new();
        mkdir(&mut ns, "/h", perm("bob", "bob", 0o755));
        mkdir(&mut ns, "/h/d", perm("bob", "bob", 0o755));
        mkdir(&mut ns, "/h/d/empty", perm("alice", "alice", 0o500));
        mkdir(&mut ns, "/h/d/full", perm("alice", "alice", 0o755));
        touch(&mut ns, "/h/d/full/f", perm("alice", "alice", 0o644));
        let bob = Subject::user("bob", &[]);
        let need = Need {
            parent: Some(Access::WRITE),
            sub: Some(Access::WRITE_EXECUTE),
            ignore_empty_dir: true,
            ..Need::default()
        };
        let e = refusal(check(&ns, &bob, "/h/d", need));
        assert!(
            e.contains("access=WRITE_EXECUTE, path=/h/d/full (rwxr-xr-x alice:alice)"),
            "{e}"
        );
        check(&ns, &bob, "/h/d/empty", need).expect("an empty directory goes whatever its mode");
        // Content summary checks every directory, empty or not.
        let summary = Need {
            sub: Some(Access::READ_EXECUTE),
            ..Need::default()
        };
        let e = refusal(check(&ns, &bob, "/h/d", summary));
        assert!(e.contains("path=/h/d/empty (r-x------"), "{e}");
    }

    #[test]
    fn only_the_owner_or_superuser_chmods_and_only_the_superuser_gives_away() {
        let ns = tree();
        let alice = Subject::user("alice", &["staff", "eng"]);
        let bob = Subject::user("bob", &[]);
        let owner = Need {
            owner: true,
            ..Need::default()
        };
        check(&ns, &alice, "/user/alice/pub.txt", owner).expect("alice chmods her file");
        let e = refusal(check(&ns, &bob, "/tmp/a", owner));
        assert!(e.contains("user=bob, access=OWNER, path=/tmp/a (rw-r--r-- alice:staff)"));
        let f = "/user/alice/pub.txt";
        check_set_owner(&ns, &alice, f, None, Some("eng")).expect("to her own group");
        check_set_owner(&ns, &alice, f, Some("alice"), None).expect("to herself");
        refusal(check_set_owner(&ns, &alice, f, None, Some("wheel")));
        refusal(check_set_owner(&ns, &alice, f, Some("bob"), None));
        refusal(check_set_owner(&ns, &bob, "/tmp/a", None, None));
        check_set_owner(&ns, &Subject::superuser("root"), f, Some("bob"), Some("x"))
            .expect("the superuser gives it to anyone");
    }

    #[test]
    fn the_superuser_is_the_namenode_user_the_supergroup_or_a_daemon() {
        let ns = tree();
        let of = |id: Identity| Subject::of(&id, "hdfs", "supergroup", false);
        let nn = of(Identity::user("hdfs", vec![]));
        let member = of(Identity::user("ops", vec!["supergroup".into()]));
        let daemon = of(Identity::service("datanode"));
        let bob = of(Identity::user("bob", vec!["staff".into()]));
        for s in [&nn, &member, &daemon] {
            assert!(s.superuser, "{s:?}");
            check(&ns, s, "/user/alice/secret.txt", read()).expect("superuser reads");
            check(&ns, s, "/tmp/a", parent_write()).expect("superuser deletes");
        }
        assert!(!bob.superuser);
        refusal(check(&ns, &bob, "/user/alice/secret.txt", read()));
        let insecure = Subject::of(&Identity::user("bob", vec![]), "hdfs", "supergroup", true);
        check(&ns, &insecure, "/user/alice/secret.txt", read())
            .expect("insecure mode checks nothing");
    }

    #[test]
    fn missing_paths_are_left_to_the_operation() {
        let ns = tree();
        let bob = Subject::user("bob", &[]);
        check(&ns, &bob, "/nope/x", read()).expect("nothing to check on a missing inode");
        check(&ns, &bob, "/", read()).expect("the root is 0755");
    }
}

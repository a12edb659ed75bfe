//! Writing many new blobs as one pack and its index, without libgit2's pack
//! builder: that one searches every pair of similar blobs in a window for
//! deltas and holds the whole pack in memory, and its indexer then inflates
//! and hashes every object once more. Task files are small and distinct, so
//! here each blob is stored whole (zlib at its fastest level), hashed and
//! compressed on every core (`parallel`), and the index is written from what is already
//! known. The pack is written to a temp file and renamed into place with its
//! index, the index last, so a kill leaves a temp file git ignores, never a
//! pack without an index.

use super::{GitError, git_err};
use git2::{Oid, Repository};
// The pack's and the index's trailing checksums: libgit2 hashes only whole
// objects. Not a defence against collisions: the object ids come from
// libgit2's collision-detecting hash.
use sha1::{Digest, Sha1};
use std::io::Write;
use std::path::Path;

/// One object of the pack: its id, its entry's bytes (header and deflated
/// data) and the CRC-32 of those bytes, which the index records.
struct Packed {
    oid: Oid,
    entry: Vec<u8>,
    crc: u32,
}

/// Writes the files at `paths` (relative to `workdir`) into the repository
/// as one pack; returns their ids in order, `None` for a path with no file.
/// Each file is read, hashed and compressed on one of the cores and only its
/// compressed entry is kept: the pack's memory is its size, not that of the
/// files.
pub(super) fn write_files(
    repo: &Repository,
    workdir: &Path,
    paths: &[String],
) -> Result<Vec<Option<Oid>>, GitError> {
    let packed = crate::parallel::map(paths, |path| {
        let full = workdir.join(path);
        match std::fs::read(&full) {
            Ok(data) => pack_one(&data).map(Some),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(GitError::Io {
                what: "reading".into(),
                path: full,
                source,
            }),
        }
    })
    .into_iter()
    .collect::<Result<Vec<_>, _>>()?;
    write(repo, &packed.iter().flatten().collect::<Vec<_>>())?;
    Ok(packed.iter().map(|p| p.as_ref().map(|p| p.oid)).collect())
}

/// Writes `packed` as one pack and its index.
fn write(repo: &Repository, packed: &[&Packed]) -> Result<(), GitError> {
    // Two equal blobs are one object: an index lists each id once.
    let mut seen = std::collections::HashSet::with_capacity(packed.len());
    let unique: Vec<&Packed> = packed
        .iter()
        .copied()
        .filter(|p| seen.insert(p.oid))
        .collect();
    let dir = repo.path().join("objects").join("pack");
    let io = |what: &'static str| {
        let dir = dir.clone();
        move |source| GitError::Io {
            what: what.into(),
            path: dir,
            source,
        }
    };
    std::fs::create_dir_all(&dir).map_err(io("creating"))?;

    let mut pack = tempfile::Builder::new()
        .prefix("tmp_pack_batch_")
        .tempfile_in(&dir)
        .map_err(io("writing a pack into"))?;
    let mut sum = Sha1::new();
    let mut out = std::io::BufWriter::with_capacity(1 << 20, pack.as_file_mut());
    let mut put = |bytes: &[u8], sum: &mut Sha1| {
        sum.update(bytes);
        out.write_all(bytes)
    };
    let mut header = Vec::with_capacity(12);
    header.extend_from_slice(b"PACK");
    header.extend_from_slice(&2u32.to_be_bytes());
    header.extend_from_slice(&(unique.len() as u32).to_be_bytes());
    put(&header, &mut sum).map_err(io("writing a pack into"))?;
    let mut offsets = Vec::with_capacity(unique.len());
    let mut at = header.len() as u64;
    for p in &unique {
        offsets.push(at);
        put(&p.entry, &mut sum).map_err(io("writing a pack into"))?;
        at += p.entry.len() as u64;
    }
    let pack_sum: [u8; 20] = sum.finalize().into();
    put(&pack_sum, &mut Sha1::new()).map_err(io("writing a pack into"))?;
    out.flush().map_err(io("writing a pack into"))?;
    drop(out);
    // Read-only, as git leaves its packs.
    read_only(pack.as_file()).map_err(io("writing a pack into"))?;
    pack.as_file()
        .sync_all()
        .map_err(io("writing a pack into"))?;

    let idx_bytes = index_of(&unique, &offsets, &pack_sum);
    let mut idx = tempfile::Builder::new()
        .prefix("tmp_idx_batch_")
        .tempfile_in(&dir)
        .map_err(io("writing a pack index into"))?;
    idx.write_all(&idx_bytes)
        .map_err(io("writing a pack index into"))?;
    read_only(idx.as_file()).map_err(io("writing a pack index into"))?;
    idx.as_file()
        .sync_all()
        .map_err(io("writing a pack index into"))?;

    let name = format!("pack-{}", hex(&pack_sum));
    // A pack is read only once its index is there: the pack goes first.
    pack.persist(dir.join(format!("{name}.pack")))
        .map_err(|e| e.error)
        .map_err(io("writing a pack into"))?;
    idx.persist(dir.join(format!("{name}.idx")))
        .map_err(|e| e.error)
        .map_err(io("writing a pack index into"))?;
    crate::atomic::sync_dir(&dir).map_err(io("writing a pack into"))?;
    repo.odb()
        .and_then(|odb| odb.refresh())
        .map_err(git_err("reading the new pack"))
}

fn read_only(file: &std::fs::File) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    file.set_permissions(std::fs::Permissions::from_mode(0o444))
}

fn pack_one(data: &[u8]) -> Result<Packed, GitError> {
    let oid = Oid::hash_object(git2::ObjectType::Blob, data).map_err(git_err("hashing a blob"))?;
    let mut entry = object_header(3, data.len() as u64);
    deflate_into(data, &mut entry);
    let crc = crc32(&entry);
    Ok(Packed { oid, entry, crc })
}

/// A pack entry's header: the type (3 is a blob) and the inflated size, in
/// git's variable-length encoding.
fn object_header(kind: u8, mut size: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(10);
    let mut byte = (kind << 4) | (size & 0x0f) as u8;
    size >>= 4;
    while size > 0 {
        out.push(byte | 0x80);
        byte = (size & 0x7f) as u8;
        size >>= 7;
    }
    out.push(byte);
    out
}

/// Appends `data` as one zlib stream, at zlib's fastest level: task files
/// are small, and `git gc` recompresses whatever it repacks.
fn deflate_into(data: &[u8], out: &mut Vec<u8>) {
    // SAFETY: compressBound is a pure function of the length.
    let bound = unsafe { libz_sys::compressBound(data.len() as libz_sys::uLong) } as usize;
    let start = out.len();
    out.resize(start + bound, 0);
    let mut len = bound as libz_sys::uLongf;
    // SAFETY: the destination has `bound` writable bytes from `start`, which
    // is what compressBound says any input of this length needs; the source
    // is a valid slice of its length.
    let rc = unsafe {
        libz_sys::compress2(
            out.as_mut_ptr().add(start),
            &mut len,
            data.as_ptr(),
            data.len() as libz_sys::uLong,
            libz_sys::Z_BEST_SPEED,
        )
    };
    assert_eq!(
        rc,
        libz_sys::Z_OK,
        "zlib compress2 with a bound-sized buffer"
    );
    out.truncate(start + len as usize);
}

fn crc32(data: &[u8]) -> u32 {
    // SAFETY: a valid slice; zlib's crc32 reads exactly `len` bytes.
    unsafe { libz_sys::crc32(0, data.as_ptr(), data.len() as libz_sys::uInt) as u32 }
}

/// The version 2 index of the pack: a fan-out table, the ids in order, their
/// CRC-32s and offsets (with the 64-bit table for a pack past 2 GiB), the
/// pack's checksum and the index's own.
fn index_of(objects: &[&Packed], offsets: &[u64], pack_sum: &[u8; 20]) -> Vec<u8> {
    let mut order: Vec<usize> = (0..objects.len()).collect();
    order.sort_unstable_by(|&a, &b| objects[a].oid.as_bytes().cmp(objects[b].oid.as_bytes()));
    let mut out = Vec::with_capacity(8 + 1024 + objects.len() * 28 + 40);
    out.extend_from_slice(b"\xfftOc");
    out.extend_from_slice(&2u32.to_be_bytes());
    let mut fanout = [0u32; 256];
    for p in objects {
        fanout[p.oid.as_bytes()[0] as usize] += 1;
    }
    let mut total = 0u32;
    for n in fanout {
        total += n;
        out.extend_from_slice(&total.to_be_bytes());
    }
    for &i in &order {
        out.extend_from_slice(objects[i].oid.as_bytes());
    }
    for &i in &order {
        out.extend_from_slice(&objects[i].crc.to_be_bytes());
    }
    let mut large = Vec::new();
    for &i in &order {
        let offset = offsets[i];
        if offset < 0x8000_0000 {
            out.extend_from_slice(&(offset as u32).to_be_bytes());
        } else {
            out.extend_from_slice(&(0x8000_0000 | large.len() as u32).to_be_bytes());
            large.push(offset);
        }
    }
    for offset in large {
        out.extend_from_slice(&offset.to_be_bytes());
    }
    out.extend_from_slice(pack_sum);
    let mut sum = Sha1::new();
    sum.update(&out);
    let idx_sum: [u8; 20] = sum.finalize().into();
    out.extend_from_slice(&idx_sum);
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_written_pack_is_read_back_by_libgit2_and_verified_by_git() {
        let dir = tempfile::tempdir().unwrap();
        let repo = Repository::init(dir.path()).unwrap();
        let big: Vec<u8> = (0..100_000u32).flat_map(|i| i.to_le_bytes()).collect();
        let blobs: Vec<&[u8]> = vec![b"one\n", b"", b"two\n", b"one\n", &big];
        let mut paths: Vec<String> = Vec::new();
        for (i, data) in blobs.iter().enumerate() {
            std::fs::write(dir.path().join(format!("f{i}")), data).unwrap();
            paths.push(format!("f{i}"));
        }
        paths.insert(2, "missing".into());
        let oids = write_files(&repo, dir.path(), &paths).unwrap();
        assert_eq!(oids[2], None);
        let oids: Vec<Oid> = oids.into_iter().flatten().collect();
        for (oid, data) in oids.iter().zip(&blobs) {
            assert_eq!(repo.find_blob(*oid).unwrap().content(), *data);
        }
        let packs: Vec<_> = std::fs::read_dir(dir.path().join(".git/objects/pack"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(packs.len(), 2, "{packs:?}");
        let idx = packs.iter().find(|p| p.ends_with(".idx")).unwrap();
        let idx = dir.path().join(".git/objects/pack").join(idx);
        let out =
            crate::git::program::run(dir.path(), &["verify-pack", "-v", idx.to_str().unwrap()])
                .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let listed = String::from_utf8_lossy(&out.stdout);
        assert!(listed.contains("non delta: 4 objects"), "{listed}");
    }
}

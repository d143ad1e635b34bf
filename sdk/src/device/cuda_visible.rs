//! `CUDA_VISIBLE_DEVICES`, parsed the way the CUDA runtime parses it.
//!
//! - unset: every GPU (a MIG-enabled GPU contributes its first MIG device,
//!   since CUDA enumerates one MIG device per process);
//! - empty: no device;
//! - otherwise comma-separated entries, each an integer index, a `GPU-` UUID
//!   or a unique prefix of one, or a `MIG-` UUID (or unique prefix);
//! - parsing stops at the first entry that is invalid (unknown, out of range,
//!   ambiguous prefix, or a device already listed); the entries before it stay.
//!
//! The parser is a pure function of the variable's value and the machine's
//! identities, so it is tested without a driver.

use crate::backend::DeviceRef;

/// What the parser needs to know about one physical GPU.
///
/// ```
/// use nvitop::backend::DeviceRef;
/// use nvitop::device::cuda_visible::{GpuIdentity, parse_cuda_visible_devices};
/// let gpu = GpuIdentity { index: 0, uuid: Some("GPU-1234".into()), mig_devices: vec![], mig_enabled: false };
/// assert_eq!(parse_cuda_visible_devices(Some("GPU-12"), &[gpu]), [DeviceRef::Physical(0)]);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GpuIdentity {
    /// The GPU's NVML index.
    pub index: u32,
    /// Its UUID (`GPU-...`), if the driver gave one.
    pub uuid: Option<String>,
    /// Its MIG devices and their UUIDs (`MIG-...`), empty when MIG is off.
    pub mig_devices: Vec<(DeviceRef, Option<String>)>,
    /// Whether MIG mode is on.
    pub mig_enabled: bool,
}

impl GpuIdentity {
    /// What CUDA enumerates for this GPU when it is selected as a whole:
    /// the GPU itself, or its first MIG device when MIG is on (`None` when MIG
    /// is on but no MIG device exists: CUDA sees nothing there).
    fn cuda_view(&self) -> Option<DeviceRef> {
        if self.mig_enabled {
            self.mig_devices.first().map(|(handle, _)| *handle)
        } else {
            Some(DeviceRef::Physical(self.index))
        }
    }
}

/// The devices CUDA would see, in CUDA index order.
///
/// ```
/// use nvitop::device::cuda_visible::{parse_cuda_visible_devices, GpuIdentity};
/// use nvitop::backend::DeviceRef;
/// let gpus: Vec<GpuIdentity> = (0..4)
///     .map(|i| GpuIdentity { index: i, uuid: Some(format!("GPU-{i}abc")), mig_devices: vec![], mig_enabled: false })
///     .collect();
/// assert_eq!(parse_cuda_visible_devices(Some("3,1"), &gpus), vec![DeviceRef::Physical(3), DeviceRef::Physical(1)]);
/// assert_eq!(parse_cuda_visible_devices(Some("1,7,2"), &gpus), vec![DeviceRef::Physical(1)]);
/// assert_eq!(parse_cuda_visible_devices(Some("GPU-2"), &gpus), vec![DeviceRef::Physical(2)]);
/// assert_eq!(parse_cuda_visible_devices(Some(""), &gpus), vec![]);
/// assert_eq!(parse_cuda_visible_devices(None, &gpus).len(), 4);
/// ```
pub fn parse_cuda_visible_devices(value: Option<&str>, gpus: &[GpuIdentity]) -> Vec<DeviceRef> {
    parse(value, gpus).0
}

/// The entry of `CUDA_VISIBLE_DEVICES` where parsing stopped, if one did:
/// CUDA ignores it and every entry after it, without a word, so a typo
/// silently hides GPUs. `None` when every entry names a device (and for an
/// unset or empty variable).
///
/// ```
/// use nvitop::device::cuda_visible::{first_ignored_entry, GpuIdentity, IgnoredReason};
/// let gpus: Vec<GpuIdentity> = (0..4)
///     .map(|i| GpuIdentity { index: i, uuid: Some(format!("GPU-{i}abc")), mig_devices: vec![], mig_enabled: false })
///     .collect();
/// let ignored = first_ignored_entry(Some("1,7,2"), &gpus).unwrap();
/// assert_eq!((ignored.position, ignored.entry.as_str()), (2, "7"));
/// assert_eq!(ignored.reason, IgnoredReason::NoSuchIndex);
/// assert_eq!(ignored.to_string(), "entry 2 of 3, '7', is not the index of a GPU here: CUDA ignores it and the 1 entry after it");
/// assert!(first_ignored_entry(Some("3,1"), &gpus).is_none());
/// assert!(first_ignored_entry(None, &gpus).is_none());
/// ```
pub fn first_ignored_entry(value: Option<&str>, gpus: &[GpuIdentity]) -> Option<IgnoredEntry> {
    parse(value, gpus).1
}

/// An entry of `CUDA_VISIBLE_DEVICES` CUDA ignores (see [`first_ignored_entry`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IgnoredEntry {
    /// Its place in the list, from 1.
    pub position: usize,
    /// How many entries the list has.
    pub entries: usize,
    /// The entry as written (trimmed).
    pub entry: String,
    /// Why it names no device.
    pub reason: IgnoredReason,
}

/// Why an entry of `CUDA_VISIBLE_DEVICES` names no device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IgnoredReason {
    /// Nothing between two commas.
    Empty,
    /// A number, but no GPU has that index.
    NoSuchIndex,
    /// A `GPU-`/`MIG-` UUID (or prefix) no device has.
    NoSuchUuid,
    /// A UUID prefix more than one device starts with.
    AmbiguousUuid,
    /// The device was already listed earlier.
    Repeated,
    /// A GPU in MIG mode without MIG devices: CUDA sees nothing there.
    NoMigDevice,
    /// Neither an index nor a UUID.
    NotADeviceName,
}

impl std::fmt::Display for IgnoredEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let why = match self.reason {
            IgnoredReason::Empty => "is empty",
            IgnoredReason::NoSuchIndex => "is not the index of a GPU here",
            IgnoredReason::NoSuchUuid => "is not the UUID of a device here",
            IgnoredReason::AmbiguousUuid => "starts more than one device's UUID",
            IgnoredReason::Repeated => "names a device listed before it",
            IgnoredReason::NoMigDevice => "is a GPU in MIG mode without MIG devices",
            IgnoredReason::NotADeviceName => "is neither a GPU index nor a GPU-/MIG- UUID",
        };
        let after = self.entries - self.position;
        write!(
            f,
            "entry {} of {}, '{}', {why}: CUDA ignores it",
            self.position, self.entries, self.entry
        )?;
        match after {
            0 => Ok(()),
            1 => write!(f, " and the 1 entry after it"),
            n => write!(f, " and the {n} entries after it"),
        }
    }
}

/// The visible devices and, where parsing stopped early, the entry it
/// stopped at: [`parse_cuda_visible_devices`] and [`first_ignored_entry`]
/// in one pass.
pub(crate) fn parse(value: Option<&str>, gpus: &[GpuIdentity]) -> (Vec<DeviceRef>, Option<IgnoredEntry>) {
    let Some(value) = value else {
        return (gpus.iter().filter_map(GpuIdentity::cuda_view).collect(), None);
    };
    let mut visible = Vec::new();
    if value.trim().is_empty() {
        return (visible, None);
    }
    let entries = value.split(',').count();
    for (position, token) in value.split(',').map(str::trim).enumerate() {
        let reason = match resolve_entry(token, gpus) {
            Ok(handle) if !visible.contains(&handle) => {
                visible.push(handle);
                continue;
            }
            Ok(_) => IgnoredReason::Repeated,
            Err(reason) => reason,
        };
        let ignored = IgnoredEntry {
            position: position + 1,
            entries,
            entry: token.to_owned(),
            reason,
        };
        return (visible, Some(ignored));
    }
    (visible, None)
}

fn resolve_entry(token: &str, gpus: &[GpuIdentity]) -> Result<DeviceRef, IgnoredReason> {
    if token.is_empty() {
        return Err(IgnoredReason::Empty);
    }
    if token.bytes().all(|b| b.is_ascii_digit()) {
        let gpu = token
            .parse::<u32>()
            .ok()
            .and_then(|index| gpus.iter().find(|g| g.index == index))
            .ok_or(IgnoredReason::NoSuchIndex)?;
        return gpu.cuda_view().ok_or(IgnoredReason::NoMigDevice);
    }
    if has_prefix_ignore_case(token, "MIG-") {
        let candidates = gpus
            .iter()
            .flat_map(|g| g.mig_devices.iter())
            .filter_map(|(handle, uuid)| uuid.as_deref().map(|u| (*handle, u)));
        return unique_prefix_match(token, candidates);
    }
    if has_prefix_ignore_case(token, "GPU-") {
        let candidates = gpus.iter().filter_map(|g| g.uuid.as_deref().map(|u| (g, u)));
        let gpu = unique_prefix_match(token, candidates)?;
        return gpu.cuda_view().ok_or(IgnoredReason::NoMigDevice);
    }
    Err(IgnoredReason::NotADeviceName)
}

fn has_prefix_ignore_case(token: &str, prefix: &str) -> bool {
    token.len() >= prefix.len()
        && token.is_char_boundary(prefix.len())
        && token[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// The one candidate whose UUID starts with `token` (an exact match wins
/// over prefixes).
fn unique_prefix_match<'a, T: Copy>(
    token: &str,
    candidates: impl Iterator<Item = (T, &'a str)>,
) -> Result<T, IgnoredReason> {
    let mut found = None;
    let mut ambiguous = false;
    for (item, uuid) in candidates {
        if uuid.eq_ignore_ascii_case(token) {
            return Ok(item);
        }
        if has_prefix_ignore_case(uuid, token) {
            ambiguous |= found.is_some();
            found = Some(item);
        }
    }
    match found {
        _ if ambiguous => Err(IgnoredReason::AmbiguousUuid),
        Some(item) => Ok(item),
        None => Err(IgnoredReason::NoSuchUuid),
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn machine() -> Vec<GpuIdentity> {
        vec![
            GpuIdentity {
                index: 0,
                uuid: Some("GPU-aaaa1111".into()),
                mig_devices: vec![],
                mig_enabled: false,
            },
            GpuIdentity {
                index: 1,
                uuid: Some("GPU-aaaa2222".into()),
                mig_devices: vec![],
                mig_enabled: false,
            },
            GpuIdentity {
                index: 2,
                uuid: Some("GPU-bbbb3333".into()),
                mig_devices: vec![
                    (DeviceRef::Mig { parent: 2, index: 0 }, Some("MIG-cccc0000".into())),
                    (DeviceRef::Mig { parent: 2, index: 1 }, Some("MIG-cccc1111".into())),
                ],
                mig_enabled: true,
            },
            GpuIdentity {
                index: 3,
                uuid: Some("GPU-dddd4444".into()),
                mig_devices: vec![],
                mig_enabled: false,
            },
        ]
    }

    const P: fn(u32) -> DeviceRef = DeviceRef::Physical;

    #[test]
    fn unset_means_all_with_first_mig_device() {
        let m = machine();
        assert_eq!(
            parse_cuda_visible_devices(None, &m),
            vec![P(0), P(1), DeviceRef::Mig { parent: 2, index: 0 }, P(3)]
        );
    }

    #[test]
    fn empty_means_none() {
        assert!(parse_cuda_visible_devices(Some(""), &machine()).is_empty());
        assert!(parse_cuda_visible_devices(Some("  "), &machine()).is_empty());
    }

    #[test]
    fn stops_at_first_invalid_entry() {
        let m = machine();
        assert_eq!(parse_cuda_visible_devices(Some("1,0,9,3"), &m), vec![P(1), P(0)]);
        assert_eq!(parse_cuda_visible_devices(Some("-1,0"), &m), vec![]);
        assert_eq!(parse_cuda_visible_devices(Some("0,,1"), &m), vec![P(0)]);
        assert_eq!(parse_cuda_visible_devices(Some("0,1x,3"), &m), vec![P(0)]);
        assert_eq!(parse_cuda_visible_devices(Some("3,3,1"), &m), vec![P(3)]);
        assert_eq!(parse_cuda_visible_devices(Some(" 3 , 1 "), &m), vec![P(3), P(1)]);
    }

    #[test]
    fn uuids_and_prefixes() {
        let m = machine();
        assert_eq!(parse_cuda_visible_devices(Some("GPU-dddd4444,0"), &m), vec![P(3), P(0)]);
        assert_eq!(parse_cuda_visible_devices(Some("GPU-d"), &m), vec![P(3)]);
        // Ambiguous prefix: both GPU 0 and 1 start with GPU-aaaa.
        assert_eq!(parse_cuda_visible_devices(Some("3,GPU-aaaa,1"), &m), vec![P(3)]);
        assert_eq!(
            parse_cuda_visible_devices(Some("MIG-cccc1111"), &m),
            vec![DeviceRef::Mig { parent: 2, index: 1 }]
        );
        assert_eq!(parse_cuda_visible_devices(Some("MIG-cccc"), &m), vec![]);
        assert_eq!(
            parse_cuda_visible_devices(Some("gpu-bbbb"), &m),
            vec![DeviceRef::Mig { parent: 2, index: 0 }]
        );
        assert_eq!(parse_cuda_visible_devices(Some("nonsense,0"), &m), vec![]);
    }

    #[test]
    fn the_first_ignored_entry_says_why() {
        let m = machine();
        let why = |value| first_ignored_entry(Some(value), &m).map(|e| (e.position, e.entry, e.reason));
        assert_eq!(why("1,0,9,3"), Some((3, "9".to_owned(), IgnoredReason::NoSuchIndex)));
        assert_eq!(why("0,,1"), Some((2, String::new(), IgnoredReason::Empty)));
        assert_eq!(why("3, 3"), Some((2, "3".to_owned(), IgnoredReason::Repeated)));
        assert_eq!(
            why("GPU-dddd4444,3"),
            Some((2, "3".to_owned(), IgnoredReason::Repeated))
        );
        assert_eq!(
            why("GPU-aaaa"),
            Some((1, "GPU-aaaa".to_owned(), IgnoredReason::AmbiguousUuid))
        );
        assert_eq!(
            why("MIG-ffff"),
            Some((1, "MIG-ffff".to_owned(), IgnoredReason::NoSuchUuid))
        );
        assert_eq!(why("-1"), Some((1, "-1".to_owned(), IgnoredReason::NotADeviceName)));
        assert_eq!(
            why("cuda:0"),
            Some((1, "cuda:0".to_owned(), IgnoredReason::NotADeviceName))
        );
        assert_eq!(why(" 3 , 1 "), None);
        assert_eq!(first_ignored_entry(Some(""), &m), None);
        assert_eq!(first_ignored_entry(None, &m), None);

        let mut no_mig = machine();
        no_mig[2].mig_devices.clear();
        let ignored = first_ignored_entry(Some("0,2"), &no_mig);
        assert_eq!(ignored.map(|e| e.reason), Some(IgnoredReason::NoMigDevice));

        let text = |value| first_ignored_entry(Some(value), &m).map(|e| e.to_string());
        assert_eq!(
            text("0,x,1,2").as_deref(),
            Some(
                "entry 2 of 4, 'x', is neither a GPU index nor a GPU-/MIG- UUID: CUDA ignores it and the 2 entries after it"
            )
        );
        assert_eq!(
            text("0,1,7").as_deref(),
            Some("entry 3 of 3, '7', is not the index of a GPU here: CUDA ignores it")
        );
    }

    fn token() -> impl Strategy<Value = String> {
        prop_oneof![
            (0u32..8).prop_map(|i| i.to_string()),
            Just("GPU-aaaa1111".to_owned()),
            Just("GPU-b".to_owned()),
            Just("GPU-aaaa".to_owned()),
            Just("MIG-cccc1".to_owned()),
            Just(String::new()),
            "[a-z0-9-]{0,6}",
        ]
    }

    proptest! {
        #[test]
        fn never_duplicates_and_never_panics(tokens in proptest::collection::vec(token(), 0..8)) {
            let value = tokens.join(",");
            let got = parse_cuda_visible_devices(Some(&value), &machine());
            let mut dedup = got.clone();
            dedup.sort();
            dedup.dedup();
            prop_assert_eq!(dedup.len(), got.len());
            prop_assert!(got.len() <= tokens.len());
            // Every entry was taken, or the first one that was not is named.
            let ignored = first_ignored_entry(Some(&value), &machine());
            match ignored {
                None if value.trim().is_empty() => prop_assert!(got.is_empty()),
                None => prop_assert_eq!(got.len(), value.split(',').count()),
                Some(e) => {
                    prop_assert_eq!(e.position, got.len() + 1);
                    prop_assert_eq!(e.entry.as_str(), value.split(',').nth(got.len()).unwrap_or_default().trim());
                }
            }
        }

        #[test]
        fn appending_never_changes_the_prefix(a in proptest::collection::vec(token(), 1..5), b in proptest::collection::vec(token(), 0..5)) {
            let m = machine();
            let left = parse_cuda_visible_devices(Some(&a.join(",")), &m);
            let both = parse_cuda_visible_devices(Some(&[a.join(","), b.join(",")].join(",")), &m);
            prop_assert!(both.starts_with(&left));
            // If some entry of `a` was rejected, nothing of `b` may be taken.
            if left.len() < a.len() {
                prop_assert_eq!(both, left);
            }
        }

        /// Any prefix of a UUID (from `GPU-`/`MIG-` plus one character)
        /// selects its device when no other UUID starts with it, in any
        /// case, and nothing when it is ambiguous.
        #[test]
        fn uuid_prefixes_select_exactly_when_unique(
            which in 0usize..6,
            cut in 5usize..13,
            upper in any::<bool>(),
        ) {
            let m = machine();
            let mut uuids: Vec<(String, DeviceRef)> = m
                .iter()
                .filter_map(|g| Some((g.uuid.clone()?, g.cuda_view()?)))
                .collect();
            uuids.extend(m.iter().flat_map(|g| g.mig_devices.iter()).filter_map(|(h, u)| Some((u.clone()?, *h))));
            let (uuid, target) = &uuids[which % uuids.len()];
            let prefix = &uuid[..cut.min(uuid.len())];
            let token = if upper { prefix.to_ascii_uppercase() } else { prefix.to_owned() };
            let matching = uuids.iter().filter(|(u, _)| u.starts_with(prefix)).count();
            let exact = uuids.iter().any(|(u, _)| u == prefix);
            let got = parse_cuda_visible_devices(Some(&token), &m);
            if matching == 1 || exact {
                prop_assert_eq!(got, vec![*target]);
            } else {
                prop_assert_eq!(got, vec![]);
            }
        }

        /// A list of distinct valid entries, written as indices or full
        /// UUIDs in any mix, gives exactly those devices in that order.
        #[test]
        fn valid_mixed_lists_are_kept_in_order(
            perm in Just(vec![0u32, 1, 2, 3]).prop_shuffle(),
            by_uuid in proptest::collection::vec(any::<bool>(), 4),
        ) {
            let m = machine();
            let value = perm
                .iter()
                .zip(&by_uuid)
                .map(|(&i, &uuid)| if uuid { m[i as usize].uuid.clone().unwrap() } else { i.to_string() })
                .collect::<Vec<_>>()
                .join(",");
            let want: Vec<DeviceRef> = perm.iter().filter_map(|&i| m[i as usize].cuda_view()).collect();
            prop_assert_eq!(parse_cuda_visible_devices(Some(&value), &m), want);
        }

        #[test]
        fn valid_index_lists_are_kept_in_order(perm in Just(vec![0u32, 1, 3]).prop_shuffle()) {
            let value = perm.iter().map(ToString::to_string).collect::<Vec<_>>().join(",");
            let got = parse_cuda_visible_devices(Some(&value), &machine());
            prop_assert_eq!(got, perm.into_iter().map(DeviceRef::Physical).collect::<Vec<_>>());
        }
    }
}

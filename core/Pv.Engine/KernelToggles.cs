// The generic-kernel era toggles by the names plugins.json and scenarios use. They belong to the arch-
// independent mm (mm/mmu_gather.c, mm/memory.c), not to a backend, so a backend entry selects them in a
// "kernel" section rather than through its plugin's options. One table, so every front end accepts the
// same names with the same meaning.
namespace Pv.Engine;

/// <summary>The era toggles of <see cref="MachineOptions"/> by name.</summary>
public static class KernelToggles
{
    /// <summary>One toggle: its key, what it models, and how it is set.</summary>
    /// <param name="Key">The name in plugins.json and scenarios.</param>
    /// <param name="Description">What turning it on means, in kernel terms.</param>
    /// <param name="Apply">Returns options with the toggle set.</param>
    public sealed record Toggle(string Key, string Description, Func<MachineOptions, bool, MachineOptions> Apply);

    /// <summary>Every toggle, by key.</summary>
    public static IReadOnlyDictionary<string, Toggle> ByKey { get; } = new[]
    {
        new Toggle("pfnmapForceFlush", "2022: tlb_end_vma flushes VM_PFNMAP/VM_MIXEDMAP VMAs even with MMU_GATHER_MERGE_VMAS (Z3 fix)",
            (o, v) => o with { PfnmapForceFlush = v }),
        new Toggle("batchFailureInvalidate", "tlb_remove_table invalidates TLB and walk caches before the sync-one free when no batch page can be allocated (Z6 fix)",
            (o, v) => o with { BatchFailureInvalidate = v }),
        new Toggle("protectionUpgradeNotifier", "the 2023 seed: a PROTECTION_UPGRADE notifier pair after ptep_set_access_flags makes a PTE more permissive",
            (o, v) => o with { ProtectionUpgradeNotifier = v }),
        new Toggle("nestedFlush", "2017 (99baac21e458): tlb_finish_mmu flushes the whole mm when mm_tlb_flush_nested (a concurrent gather on the mm)",
            (o, v) => o with { NestedFlush = v }),
        new Toggle("mremapFlush", "CVE-2018-18281: mremap's move_ptes flushes the old range before dropping the PTL and the rmap locks",
            (o, v) => o with { MremapFlush = v }),
        new Toggle("collapseSyncOne", "2022 (2ba99c5e0881): khugepaged sends tlb_remove_table_sync_one before freeing a collapsed PTE table, so GUP-fast is not walking it",
            (o, v) => o with { CollapseSyncOne = v }),
        new Toggle("stealTimeXchg", "CVE-2019-3016 fix (5.6): KVM's record_steal_time clears steal_time.preempted with one xchg, so a KVM_VCPU_FLUSH_TLB set meanwhile is not lost",
            (o, v) => o with { StealTimeXchg = v }),
        new Toggle("strictO3", "oracle: flag a latent stale TLB entry at the moment munmap/mprotect/madvise returns",
            (o, v) => o with { StrictO3 = v }),
    }.ToDictionary(t => t.Key, StringComparer.Ordinal);
}

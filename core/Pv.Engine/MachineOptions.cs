// The shape of a simulated machine: CPU count, paging levels, TLB and walk-cache sizes, oracle settings
// and the cost model. Everything that changes a run is here or in the scenario, so a run is reproducible
// from (options, scenario, backend, schedule).
using Pv.Abstractions.Host;
using Pv.Abstractions.Mm;

namespace Pv.Engine;

/// <summary>Options of one simulated machine.</summary>
public sealed record MachineOptions
{
    /// <summary>Number of CPUs, 1..256.</summary>
    public int Cpus { get; init; } = 2;
    /// <summary>Paging levels, 4 or 5.</summary>
    public int PagingLevels { get; init; } = 4;
    /// <summary>TLB entries per CPU.</summary>
    public int TlbEntries { get; init; } = 1024;
    /// <summary>TLB associativity.</summary>
    public int TlbWays { get; init; } = 8;
    /// <summary>Paging-structure cache entries per level per CPU.</summary>
    public int WalkCacheEntries { get; init; } = 16;
    /// <summary>Steps kept per thread for violation reports.</summary>
    public int TraceDepth { get; init; } = 32;
    /// <summary>A run stops after this many steps.</summary>
    public long MaxSteps { get; init; } = 1_000_000;
    /// <summary>O3 strict mode: flag a latent stale TLB entry at the moment an operation returns.</summary>
    public bool StrictO3 { get; init; }
    /// <summary>O5's K: permitted-address faults of one device page before it counts as a livelock.</summary>
    public int O5FaultLimit { get; init; } = 8;
    /// <summary>
    /// Era toggle <c>pfnmap-force-flush</c> (2022): <c>tlb_end_vma</c> flushes a VM_PFNMAP/VM_MIXEDMAP VMA even when
    /// the arch merges VMAs, so <c>unmap_mapping_range</c> cannot return while stale entries to its PFNs remain.
    /// </summary>
    public bool PfnmapForceFlush { get; init; } = true;
    /// <summary>
    /// Era toggle <c>batch-failure-invalidate</c>: when the table batch cannot be allocated, <c>tlb_remove_table</c>
    /// invalidates the TLB and walk caches (<c>tlb_table_invalidate</c>) before freeing the one table after
    /// <c>tlb_remove_table_sync_one</c>. Off reproduces Z6.
    /// </summary>
    public bool BatchFailureInvalidate { get; init; } = true;
    /// <summary>
    /// The 2023 seed's proposal (not merged): after <c>ptep_set_access_flags</c> made a PTE more permissive, send a
    /// PROTECTION_UPGRADE invalidate_range_start/end pair once the PTL is dropped.
    /// </summary>
    public bool ProtectionUpgradeNotifier { get; init; }
    /// <summary>
    /// Era toggle <c>nested-flush</c> (99baac21e458, 2017): <c>tlb_finish_mmu</c> flushes the whole mm when another gather
    /// is in flight on it (<c>mm_tlb_flush_nested</c>), so a zap that found PTEs already cleared by a concurrent zap does
    /// not return before their stale TLB entries are gone. Off reproduces the MADV_DONTNEED/FREE race it fixed.
    /// </summary>
    public bool NestedFlush { get; init; } = true;
    /// <summary>
    /// Era toggle <c>mremap-flush</c> (CVE-2018-18281): <c>move_ptes</c> flushes the old range before dropping the PTL
    /// and the rmap locks. Off: the flush comes after the locks are dropped, so <c>unmap_mapping_range</c> or truncate
    /// can find the moved PTEs, zap and free the pages while a TLB still maps them at the old address.
    /// </summary>
    public bool MremapFlush { get; init; } = true;
    /// <summary>
    /// Era toggle <c>collapse-sync-one</c> (2ba99c5e0881, 2022): khugepaged's <c>collapse_and_free_pmd</c> calls
    /// <c>tlb_remove_table_sync_one</c> after <c>pmdp_collapse_flush</c> on arches that free tables through RCU, so
    /// GUP-fast cannot be walking the PTE table <c>pte_free</c> then frees. Off reproduces the race it closed.
    /// </summary>
    public bool CollapseSyncOne { get; init; } = true;
    /// <summary>
    /// The host side of KVM's PV TLB flush (CVE-2019-3016, fixed in 5.6): record_steal_time clears the vCPU's
    /// steal_time.preempted with one xchg on the guest's page. Off, it is the older code: the steal-time struct is read
    /// into a host copy, the copy's flag tested and cleared, and the copy written back later, so a KVM_VCPU_FLUSH_TLB
    /// the guest sets in between is overwritten and the vCPU runs on with its stale TLB.
    /// </summary>
    public bool StealTimeXchg { get; init; } = true;
    /// <summary>Tables per mmu_gather table batch (MAX_TABLE_BATCH: a page of pointers).</summary>
    public int MaxTableBatch { get; init; } = 509;
    /// <summary>Pages per mmu_gather page batch before a forced flush (MAX_GATHER_BATCH).</summary>
    public int MaxGatherBatch { get; init; } = 510;
    /// <summary>The engine's cost figures.</summary>
    public CostModel Cost { get; init; } = new();
    /// <summary>
    /// The values in force of the costs the backend declares (<c>PvBackendInfo.Costs</c>), by key; the backend reads
    /// them through <see cref="ICost.Value"/>. Empty for a machine without a backend's declarations.
    /// </summary>
    public IReadOnlyDictionary<string, long> BackendCosts { get; init; } = new Dictionary<string, long>();

    /// <summary>Throws with a clear message if an option is out of range.</summary>
    public void Validate()
    {
        if (Cpus < 1 || Cpus > CpuMask.MaxCpus) throw new ArgumentOutOfRangeException(nameof(Cpus), Cpus, $"CPUs must be 1..{CpuMask.MaxCpus}");
        if (PagingLevels is not (4 or 5)) throw new ArgumentOutOfRangeException(nameof(PagingLevels), PagingLevels, "paging levels must be 4 or 5");
        if (TlbEntries < 1) throw new ArgumentOutOfRangeException(nameof(TlbEntries), TlbEntries, "TLB entries must be at least 1");
        if (TlbWays < 1 || TlbWays > 255) throw new ArgumentOutOfRangeException(nameof(TlbWays), TlbWays, "TLB ways must be 1..255");
        if (WalkCacheEntries < 0) throw new ArgumentOutOfRangeException(nameof(WalkCacheEntries), WalkCacheEntries, "walk-cache entries must be >= 0");
        if (TraceDepth < 1) throw new ArgumentOutOfRangeException(nameof(TraceDepth), TraceDepth, "trace depth must be >= 1");
        if (MaxTableBatch < 1) throw new ArgumentOutOfRangeException(nameof(MaxTableBatch), MaxTableBatch, "table batch must hold at least one table");
        if (MaxGatherBatch < 1) throw new ArgumentOutOfRangeException(nameof(MaxGatherBatch), MaxGatherBatch, "page batch must hold at least one page");
        if (MaxSteps < 1) throw new ArgumentOutOfRangeException(nameof(MaxSteps), MaxSteps, "max steps must be >= 1");
    }
}

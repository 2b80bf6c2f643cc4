// The simulated CPUs as a plugin sees them: who is running, what each has loaded, and the local TLB and
// paging-structure-cache invalidations the hardware offers. Remote CPUs are reached only through IPIs
// (IIpi), a hypervisor (IHypervisor) or hardware broadcast (BroadcastInvalidate).
using Pv.Abstractions.Mm;

namespace Pv.Abstractions.Host;

/// <summary>What a TLB invalidation covers.</summary>
public enum TlbInvalidationKind : byte
{
    /// <summary>One page (INVLPG, TLBI VAE1).</summary>
    Page,
    /// <summary>A range, page by page at the given stride.</summary>
    Range,
    /// <summary>Everything tagged with the mm's ASID/PCID (TLBI ASIDE1, CR3 reload).</summary>
    Asid,
    /// <summary>Every non-global entry of every ASID.</summary>
    AllUser,
    /// <summary>Everything, global entries included.</summary>
    All,
}

/// <summary>One TLB invalidation request, local or broadcast.</summary>
/// <param name="Kind">What is covered.</param>
/// <param name="Mm">The ASID owner (ignored for AllUser/All).</param>
/// <param name="Start">First address (Page/Range).</param>
/// <param name="End">End address, exclusive (Range).</param>
/// <param name="StrideShift">log2 of the stride (Range).</param>
/// <param name="WalkCaches">Also drop paging-structure (walk) cache entries covering the range: needed after freeing tables.</param>
public readonly record struct TlbInvalidation(TlbInvalidationKind Kind, MmId Mm, ulong Start, ulong End, int StrideShift, bool WalkCaches)
{
    /// <summary>One page of <paramref name="mm"/>.</summary>
    public static TlbInvalidation Page(MmId mm, ulong address, bool walkCaches = false) =>
        new(TlbInvalidationKind.Page, mm, address, address + 4096, 12, walkCaches);

    /// <summary>[start, end) of <paramref name="mm"/> at the given stride.</summary>
    public static TlbInvalidation Range(MmId mm, ulong start, ulong end, int strideShift = 12, bool walkCaches = false) =>
        new(TlbInvalidationKind.Range, mm, start, end, strideShift, walkCaches);

    /// <summary>Everything of <paramref name="mm"/>'s ASID, walk caches included.</summary>
    public static TlbInvalidation Asid(MmId mm) => new(TlbInvalidationKind.Asid, mm, 0, 0, 12, true);

    /// <summary>Every non-global entry, walk caches included.</summary>
    public static TlbInvalidation AllUser => new(TlbInvalidationKind.AllUser, MmId.InitMm, 0, 0, 12, true);

    /// <summary>Everything.</summary>
    public static TlbInvalidation All => new(TlbInvalidationKind.All, MmId.InitMm, 0, 0, 12, true);
}

/// <summary>One simulated CPU.</summary>
public interface ICpu
{
    /// <summary>The CPU number.</summary>
    int Id { get; }

    /// <summary>The mm whose page tables this CPU's MMU uses (cpu_tlbstate.loaded_mm).</summary>
    MmId LoadedMm { get; }

    /// <summary>A kernel thread runs here holding the previous user mm loaded (lazy TLB mode).</summary>
    bool IsLazy { get; }

    /// <summary>IRQs enabled: a pending IPI is taken only then.</summary>
    bool IrqsEnabled { get; }

    /// <summary>The <c>tlb_gen</c> of <see cref="LoadedMm"/> this CPU has caught up with (cpu_tlbstate.ctxs[].tlb_gen).</summary>
    ulong LoadedTlbGen { get; set; }

    /// <summary>Invalidate this CPU's TLB (and walk caches, if asked).</summary>
    void Invalidate(in TlbInvalidation invalidation);

    /// <summary>Write CR3 / TTBR0: make <paramref name="mm"/> the loaded mm (not lazy).</summary>
    void LoadMm(MmId mm);

    /// <summary><c>leave_mm</c>/<c>switch_to init_mm</c>: drop a lazily held mm, with its walk caches.</summary>
    void SwitchToInitMm();
}

/// <summary>The machine's CPUs.</summary>
public interface ICpus
{
    /// <summary>Number of CPUs (all online).</summary>
    int Count { get; }

    /// <summary>The CPU executing the current step.</summary>
    ICpu Current { get; }

    /// <summary>CPU <paramref name="cpu"/>.</summary>
    ICpu this[int cpu] { get; }

    /// <summary>cpu_online_mask.</summary>
    CpuMask Online { get; }

    /// <summary><c>mm_cpumask(mm)</c>: CPUs that have run <paramref name="mm"/> since it was last flushed off them.</summary>
    CpuMask MmCpumask(MmId mm);

    /// <summary>Take <paramref name="cpu"/> out of <paramref name="mm"/>'s cpumask (x86 does so lazily on switch).</summary>
    void ClearMmCpumask(MmId mm, int cpu);

    /// <summary><c>mm->context.tlb_gen</c>: bumped by <see cref="IncMmTlbGen"/> on every flush request.</summary>
    ulong MmTlbGen(MmId mm);

    /// <summary><c>inc_mm_tlb_gen</c>: the new generation.</summary>
    ulong IncMmTlbGen(MmId mm);

    /// <summary>
    /// Hardware broadcast invalidation (arm64 TLBI IS + DSB, AMD INVLPGB + TLBSYNC): every CPU's TLB is
    /// invalidated without interrupting it; its IRQ state does not matter. Completes before this returns.
    /// </summary>
    void BroadcastInvalidate(in TlbInvalidation invalidation);

    /// <summary>
    /// Subscribe a device that snoops broadcast TLB maintenance (an SMMU with BTM sharing the CPU's ASIDs): it sees every
    /// later <see cref="BroadcastInvalidate"/>, after the CPUs' TLBs.
    /// </summary>
    void AddBroadcastObserver(ITlbBroadcastObserver observer);
}

/// <summary>Hardware that receives the CPUs' broadcast TLB invalidations (DVM messages) as they happen.</summary>
public interface ITlbBroadcastObserver
{
    /// <summary>A broadcast TLBI reached the interconnect: drop what it covers.</summary>
    void OnBroadcastInvalidate(in TlbInvalidation invalidation);
}

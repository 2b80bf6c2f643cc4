// mmu_notifier_ops (include/linux/mmu_notifier.h): how a secondary MMU hears that CPU page
// tables changed. Range invalidations come in start/end pairs; no secondary mapping may be established in
// the range between them (O7). arch_invalidate_secondary_tlbs comes from the arch TLB flush (v6.6+).
using Pv.Abstractions.Mm;

namespace Pv.Abstractions.Notifiers;

/// <summary>enum mmu_notifier_event, plus the seed patch's <see cref="ProtectionUpgrade"/>.</summary>
public enum MmuNotifierEvent : byte
{
    /// <summary>MMU_NOTIFY_UNMAP: the range is being unmapped (munmap, mremap source).</summary>
    Unmap,
    /// <summary>MMU_NOTIFY_CLEAR: PTEs cleared without the VMA going away (madvise, zap, reclaim).</summary>
    Clear,
    /// <summary>MMU_NOTIFY_PROTECTION_VMA: mprotect.</summary>
    ProtectionVma,
    /// <summary>MMU_NOTIFY_PROTECTION_PAGE: one page's protection changed (COW break write-protect, fork).</summary>
    ProtectionPage,
    /// <summary>MMU_NOTIFY_SOFT_DIRTY.</summary>
    SoftDirty,
    /// <summary>MMU_NOTIFY_RELEASE: the mm is going away.</summary>
    Release,
    /// <summary>MMU_NOTIFY_MIGRATE.</summary>
    Migrate,
    /// <summary>MMU_NOTIFY_EXCLUSIVE.</summary>
    Exclusive,
    /// <summary>
    /// The 2023 seed's MMU_NOTIFY_PROTECTION_UPGRADE (not merged): sent after the PTL is dropped when
    /// <c>ptep_set_access_flags</c> made a PTE more permissive.
    /// </summary>
    ProtectionUpgrade,
}

/// <summary>struct mmu_notifier_range.</summary>
/// <param name="Mm">The address space.</param>
/// <param name="Start">First address.</param>
/// <param name="End">End address (exclusive).</param>
/// <param name="Event">Why the range changes.</param>
/// <param name="Blockable">MMU_NOTIFIER_RANGE_BLOCKABLE: the callback may sleep.</param>
/// <param name="Owner">The owner cookie (device-private migration); null otherwise.</param>
public readonly record struct MmuNotifierRange(MmId Mm, ulong Start, ulong End, MmuNotifierEvent Event, bool Blockable = true, object? Owner = null);

/// <summary>
/// struct mmu_notifier_ops. Every callback has a default that does nothing (or reports "not young"), so a
/// subscriber implements only what its hardware needs.
/// </summary>
public interface IMmuNotifier
{
    /// <summary><c>release</c>: the mm is exiting; stop all access through it.</summary>
    void Release(MmId mm) { }

    /// <summary><c>clear_flush_young</c>: clear and flush accessed state; true if any page was young.</summary>
    bool ClearFlushYoung(MmId mm, ulong start, ulong end) => false;

    /// <summary><c>clear_young</c>: clear accessed state without flushing.</summary>
    bool ClearYoung(MmId mm, ulong start, ulong end) => false;

    /// <summary><c>test_young</c>: true if the page was accessed through the secondary MMU.</summary>
    bool TestYoung(MmId mm, ulong address) => false;

    /// <summary>
    /// <c>invalidate_range_start</c>: the CPU page table is about to change in the range. Return 0, or
    /// -EAGAIN (-11) when the range is not blockable and the subscriber would have to sleep.
    /// </summary>
    int InvalidateRangeStart(in MmuNotifierRange range) => 0;

    /// <summary><c>invalidate_range_end</c>: the change is done (paired with the start).</summary>
    void InvalidateRangeEnd(in MmuNotifierRange range) { }

    /// <summary>
    /// <c>arch_invalidate_secondary_tlbs</c> (v6.6+, formerly <c>invalidate_range</c>): called from the arch TLB
    /// flush, under the PTL; may not sleep. The secondary TLB must not keep any translation in the range.
    /// </summary>
    void ArchInvalidateSecondaryTlbs(MmId mm, ulong start, ulong end) { }
}

/// <summary>
/// The interval-notifier callback (struct mmu_interval_notifier_ops). Called with the global sequence already
/// odd; the subscriber records the current sequence with
/// <see cref="IMmuNotifierRegistry.IntervalSetSeq"/> under its own lock so that a reader's
/// <see cref="IMmuNotifierRegistry.IntervalReadRetry"/> fails.
/// </summary>
public interface IMmuIntervalNotifierOps
{
    /// <summary><c>invalidate</c>: return false only when the range is not blockable and it would sleep.</summary>
    bool Invalidate(MmuIntervalNotifier subscription, in MmuNotifierRange range, ulong currentSeq);
}

/// <summary>A handle for one interval subscription (struct mmu_interval_notifier).</summary>
/// <param name="Id">Host-assigned id.</param>
/// <param name="Mm">The mm watched.</param>
/// <param name="Start">First address watched.</param>
/// <param name="Length">Length of the interval.</param>
public sealed record MmuIntervalNotifier(int Id, MmId Mm, ulong Start, ulong Length);

/// <summary>
/// The host's notifier machinery (mm/mmu_notifier.c): subscriptions, the interval sequence protocol and the
/// arch flush hook.
/// </summary>
public interface IMmuNotifierRegistry
{
    /// <summary><c>mmu_notifier_register</c>: subscribe <paramref name="notifier"/> to <paramref name="mm"/>.</summary>
    void Register(MmId mm, IMmuNotifier notifier);

    /// <summary><c>mmu_notifier_unregister</c>: calls <c>release</c> if the mm is still live.</summary>
    void Unregister(MmId mm, IMmuNotifier notifier);

    /// <summary><c>mmu_interval_notifier_insert</c>.</summary>
    MmuIntervalNotifier IntervalInsert(MmId mm, ulong start, ulong length, IMmuIntervalNotifierOps ops);

    /// <summary><c>mmu_interval_notifier_remove</c>.</summary>
    void IntervalRemove(MmuIntervalNotifier subscription);

    /// <summary>
    /// <c>mmu_interval_read_begin</c>: the current even sequence. If an invalidation is running (odd), the
    /// calling thread waits, after this call returns, until it ends; call again then.
    /// </summary>
    /// <returns>The sequence to pass to <see cref="IntervalReadRetry"/>, or null when the caller must wait and retry.</returns>
    ulong? IntervalReadBegin(MmuIntervalNotifier subscription);

    /// <summary><c>mmu_interval_read_retry</c>: true if an invalidation started since <paramref name="seq"/>.</summary>
    bool IntervalReadRetry(MmuIntervalNotifier subscription, ulong seq);

    /// <summary><c>mmu_interval_set_seq</c>, from inside <see cref="IMmuIntervalNotifierOps.Invalidate"/>.</summary>
    void IntervalSetSeq(MmuIntervalNotifier subscription, ulong seq);

    /// <summary>
    /// <c>mmu_notifier_arch_invalidate_secondary_tlbs</c>: an arch TLB flush calls this at its end (v6.6+).
    /// </summary>
    void ArchInvalidateSecondaryTlbs(MmId mm, ulong start, ulong end);
}

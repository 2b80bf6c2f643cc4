// The oracle: the generic invariants O1–O7 (docs/model.md), checked as steps happen. Nothing here knows
// a scenario, a backend or an option: each check compares what simulated hardware or software just did
// against the state of frames, page tables and completed operations. The first violation stops the run;
// the machine turns it into a report with every thread's recent steps and the schedule to replay it.
//
// O3 blames an operation only for what it promised. Every cached translation carries the step it was filled
// at, and every page-table write that takes a translation away is logged with its step and thread. A returned
// operation R is responsible for a stale cached entry only if a change made after the entry was filled was
// R's own (its thread, during R), or was made by another gather that was in flight on the mm when R's
// tlb_finish_mmu ran (the kernel's mm_tlb_flush_nested promise), before that point. An entry filled after the
// change, or a change by another operation still legally deferring its flush, is never R's fault.
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine.Sched;

namespace Pv.Engine.Oracle;

/// <summary>The invariants.</summary>
public enum InvariantId : byte
{
    /// <summary>Stale translation use.</summary>
    O1 = 1,
    /// <summary>Freed page-table walk.</summary>
    O2,
    /// <summary>Stale after return.</summary>
    O3,
    /// <summary>Revoked PFN access.</summary>
    O4,
    /// <summary>Secondary MMU livelock.</summary>
    O5,
    /// <summary>Host mapping divergence (UML).</summary>
    O6,
    /// <summary>Notifier protocol.</summary>
    O7,
    /// <summary>
    /// Not a kernel invariant: an outcome the scenario asserts (an operation's <c>=&gt;</c>, a <c>forall</c> or
    /// <c>~exists</c> final condition) did not hold. Reported through the oracle so a search stops at it with a replayable schedule.
    /// </summary>
    Assertion,
}

/// <summary>One broken invariant, as found.</summary>
/// <param name="Id">Which invariant.</param>
/// <param name="Message">What happened, in kernel terms.</param>
/// <param name="Agent">Who did it: <c>cpu1</c>, <c>dev0</c>, a thread name.</param>
/// <param name="Mm">The address space.</param>
/// <param name="Address">The virtual address.</param>
/// <param name="Pfn">The frame involved.</param>
/// <param name="ExpectedGeneration">The frame's generation when the translation or pointer was made.</param>
/// <param name="ActualGeneration">Its generation at the access.</param>
/// <param name="Step">The step at which it broke.</param>
/// <param name="Check">Which check of the invariant fired (a cached or a page-table translation, the walker that read), so
/// a shrunk counterexample can be required to show the same bug.</param>
/// <param name="Culprit">For O3, the operation blamed and its thread.</param>
public sealed record Violation(
    InvariantId Id, string Message, string Agent, MmId Mm, ulong Address, Pfn Pfn,
    uint ExpectedGeneration, uint ActualGeneration, long Step, string Check = "", string? Culprit = null)
{
    /// <summary>The invariant's name.</summary>
    public string Name => Oracle.NameOf(Id);

    /// <inheritdoc/>
    public override string ToString() =>
        $"{Id} {Name}: {Message} [{Agent}, {Mm}, va {Address:x}, {Pfn}, gen {ExpectedGeneration}->{ActualGeneration}, step {Step}]";
}

/// <summary>A permission taken away by an operation that has returned (for O3).</summary>
/// <param name="Mm">The address space.</param>
/// <param name="Start">Range start.</param>
/// <param name="End">Range end (exclusive).</param>
/// <param name="Step">The step at which the operation returned.</param>
/// <param name="What">munmap, mprotect, madvise.</param>
/// <param name="Operation">The operation, with its thread, start and flush points.</param>
internal sealed record Revocation(MmId Mm, ulong Start, ulong End, long Step, string What, MmOperation Operation);

/// <summary>
/// One running operation that takes translations away (munmap, mprotect, madvise, mremap, exit, vfree), as O3 needs
/// it: who runs it, since when, and where its gathers finished. Begun with <see cref="Oracle.BeginOperation"/>.
/// </summary>
internal sealed class MmOperation
{
    private readonly List<(long Step, (int Thread, long Since)[] InFlight)> _flushPoints = [];

    internal MmOperation(MmId mm, string what, int thread, long started) => (Mm, What, Thread, Started) = (mm, what, thread, started);

    /// <summary>The address space.</summary>
    public MmId Mm { get; }
    /// <summary>munmap, mprotect, madvise(...).</summary>
    public string What { get; }
    /// <summary>The scheduler id of the thread running it (-1 outside a thread).</summary>
    public int Thread { get; }
    /// <summary>The step it began at.</summary>
    public long Started { get; }

    /// <summary>
    /// A gather of this operation ran <c>tlb_finish_mmu</c> at <paramref name="step"/>, with the other gathers of
    /// <paramref name="inFlight"/> (thread, step it began) in flight on the mm: their changes up to that point are
    /// this operation's to flush too (mm_tlb_flush_nested).
    /// </summary>
    public void Finished(long step, (int Thread, long Since)[] inFlight) => _flushPoints.Add((step, inFlight));

    /// <summary>Is a change by <paramref name="thread"/> at <paramref name="step"/> one this operation must have flushed by <paramref name="returned"/>?</summary>
    internal bool Covers(int thread, long step, long returned)
    {
        if (thread == Thread && step >= Started && step <= returned) return true;
        foreach (var (at, inFlight) in _flushPoints)
        {
            if (step > at) continue;
            foreach (var (t, since) in inFlight)
                if (t == thread && step >= since) return true;
        }
        return false;
    }
}

/// <summary>The invariant checks of one machine.</summary>
internal sealed class Oracle
{
    private readonly Machine _machine;
    private readonly List<Revocation> _revocations = [];
    private readonly Dictionary<(int Device, ulong Page), int> _permittedFaults = [];
    // Changes that took a translation away, in step order: appending is all the common path pays; only O3's and O6's
    // rare second looks (a stale translation was found) scan them.
    private readonly List<(int Mm, ulong Start, ulong End, long Step, int Thread)> _changes = [];
    // The last step a secondary TLB (SMMU, mirror, host mappings) was filled for (mm, page) from the page table.
    private readonly Dictionary<(int Mm, ulong Page), long> _secondaryFills = [];
    // Revoked device PFNs: whose promise an access to one breaks.
    private readonly Dictionary<ulong, string> _revokedBy = [];

    internal Oracle(Machine machine) => _machine = machine;

    /// <summary>As new, for a reset machine: no violation and nothing recorded (the collections keep their capacity).</summary>
    internal void Reset()
    {
        Violation = null;
        _revocations.Clear();
        _permittedFaults.Clear();
        _changes.Clear();
        _secondaryFills.Clear();
        _revokedBy.Clear();
    }

    /// <summary>The first violation, or null.</summary>
    public Violation? Violation { get; private set; }

    /// <summary>Completed revocations (munmap/mprotect/madvise that returned).</summary>
    public IReadOnlyList<Revocation> Revocations => _revocations;

    /// <summary>The name of an invariant.</summary>
    public static string NameOf(InvariantId id) => id switch
    {
        InvariantId.O1 => "stale translation use",
        InvariantId.O2 => "freed page-table walk",
        InvariantId.O3 => "stale after return",
        InvariantId.O4 => "revoked PFN access",
        InvariantId.O5 => "secondary MMU livelock",
        InvariantId.O6 => "host mapping divergence",
        InvariantId.O7 => "notifier protocol",
        InvariantId.Assertion => "scenario assertion",
        _ => "unknown",
    };

    /// <summary>
    /// O2: a hardware walk, a walk-cache hit or a software lockless walker is about to read
    /// <paramref name="table"/>, which it reached through a pointer made when the frame had generation
    /// <paramref name="expectedGeneration"/>. Returns false (and stops the run) if the table was freed or reused.
    /// </summary>
    public bool CheckTableRead(string agent, MmId mm, ulong address, Pfn table, uint expectedGeneration, string via)
    {
        var mem = _machine.Memory;
        var kind = mem.KindOf(table);
        uint gen = mem.GenerationOf(table);
        if (kind == FrameKind.PageTable && gen == expectedGeneration) return true;
        string state = kind == FrameKind.Free ? "freed" : gen != expectedGeneration ? $"freed and reused as {kind}" : $"a {kind}";
        Report(new Violation(InvariantId.O2, $"{via} reads page table {table}, which is {state}", agent, mm, address, table, expectedGeneration, gen, _machine.Step, via));
        return false;
    }

    /// <summary>
    /// O1, O3, O4: a CPU or device access reaches <paramref name="pfn"/> through a translation made when the frame
    /// had generation <paramref name="generationAtFill"/>. <paramref name="cached"/> says the translation came from
    /// a TLB (CPU or secondary) rather than a walk of the current page table; <paramref name="filledAt"/> is the step
    /// the cached translation was filled at (-1: before the run).
    /// </summary>
    public bool CheckAccess(string agent, MmId mm, ulong address, AccessKind access, Pfn pfn, uint generationAtFill, bool cached, long filledAt)
    {
        var mem = _machine.Memory;
        var kind = mem.KindOf(pfn);
        uint gen = mem.GenerationOf(pfn);
        if (kind == FrameKind.RevokedDevicePfn)
        {
            Report(new Violation(InvariantId.O4, $"{access} reaches device {pfn} after its owner revoked it{(cached ? " (stale TLB entry)" : " (still mapped)")}", agent, mm, address, pfn, generationAtFill, gen, _machine.Step,
                cached ? "cached translation" : "page-table entry", _revokedBy.GetValueOrDefault(pfn.Value)));
            return false;
        }
        if (kind == FrameKind.Free || gen != generationAtFill)
        {
            string state = kind == FrameKind.Free ? "freed" : $"freed and reused as {kind}";
            Report(new Violation(InvariantId.O1, $"{access} through a {(cached ? "cached translation" : "page-table entry")} reaches {pfn}, {state} since the translation was made", agent, mm, address, pfn, generationAtFill, gen, _machine.Step,
                cached ? "cached translation" : "page-table entry"));
            return false;
        }
        if (cached && _revocations.Count > 0 && !CheckNotRevoked(agent, mm, address, access, pfn, gen, filledAt)) return false;
        return true;
    }

    /// <summary>An operation that takes translations away begins on <paramref name="mm"/> in the current thread.</summary>
    public MmOperation BeginOperation(MmId mm, string what) =>
        new(mm, what, _machine.CurrentThread?.Id ?? -1, _machine.Step);

    /// <summary>
    /// <paramref name="op"/> returned, having taken away [start, end): from now on no access may use a cached translation
    /// it was responsible for flushing (O3). In strict mode, such a latent TLB entry is flagged at once.
    /// </summary>
    public void OperationReturned(MmOperation op, ulong start, ulong end)
    {
        var r = new Revocation(op.Mm, start, end, _machine.Step, op.What, op);
        _revocations.Add(r);
        if (!_machine.Options.StrictO3) return;
        foreach (var cpu in _machine.Cpus.All)
        {
            foreach (var (asid, va, hit) in cpu.Tlb.LiveEntries())
            {
                if (asid != op.Mm.Value) continue;
                ulong span = PageGeometry.Span(hit.Level);
                if (va + span <= start || va >= end) continue;
                ulong probe = Math.Max(va, start);
                var access = (hit.Flags & PteFlags.Write) != 0 ? AccessKind.Write : AccessKind.Read;
                if (PageTablePermits(op.Mm, probe, access, out var target) && target == Memory.PageTables.TargetPfn(PageTableEntry.Make(hit.Pfn, hit.Flags), hit.Level, probe)) continue;
                if (!Responsible(r, probe, hit.FilledAt)) continue;
                Report(new Violation(InvariantId.O3, $"{op.What} returned while {cpu} still caches a {access} translation the page table no longer grants (strict)", cpu.ToString(), op.Mm, probe, hit.Pfn, hit.Generation, hit.Generation, _machine.Step,
                    "strict", Culprit(r)));
                return;
            }
        }
    }

    /// <summary>
    /// A page-table write by the current step took away the translation of [address, address + span) in
    /// <paramref name="mm"/> (called by the page tables on every such write).
    /// </summary>
    internal void TranslationChanged(MmId mm, ulong address, ulong span)
    {
        _changes.Add((mm.Value, address, address + span, _machine.Step, _machine.CurrentThread?.Id ?? -1));
    }

    /// <summary>
    /// Was the last change that took away the translation of <paramref name="address"/> made by a gather still in flight
    /// on <paramref name="mm"/>? Its flush is legally deferred to its own <c>tlb_finish_mmu</c>, so a TLB (or UML host
    /// mapping) that still holds the old translation is not yet stale.
    /// </summary>
    public bool ChangeAwaitsFlush(Mm.MmStruct mm, ulong address)
    {
        for (int i = _changes.Count - 1; i >= 0; i--)
        {
            var c = _changes[i];
            if (c.Mm != mm.Id.Value || address < c.Start || address >= c.End) continue;
            foreach (var g in mm.ActiveGathers)
                if (g.Thread == c.Thread && g.Started <= c.Step) return true;
            return false;
        }
        return false;
    }

    /// <summary>A driver revoked device <paramref name="pfn"/>; an access that still reaches it breaks <paramref name="culprit"/>'s promise (O4).</summary>
    public void Revoked(Pfn pfn, string culprit) => _revokedBy[pfn.Value] = culprit;

    /// <summary>A secondary TLB (SMMU, a mirror, UML's host mappings) filled its translation of <paramref name="address"/> now.</summary>
    public void SecondaryFilled(MmId mm, ulong address) =>
        _secondaryFills[(mm.Value, address >> PageGeometry.PageShift)] = _machine.Step;

    /// <summary>
    /// The step a secondary TLB's translation of <paramref name="address"/> was filled at: its last fill from the page
    /// table (a secondary TLB holds nothing older than its last refill of the page), or -1 if none was seen.
    /// </summary>
    public long SecondaryFillStep(MmId mm, ulong address) =>
        _secondaryFills.TryGetValue((mm.Value, address >> PageGeometry.PageShift), out long step) ? step : -1;

    /// <summary>
    /// O5: <paramref name="device"/> faulted on <paramref name="address"/>. Counted only when the CPU page table
    /// already permits the access; more than K such faults on one page is a livelock.
    /// </summary>
    public bool DeviceFault(string agent, int device, MmId mm, ulong address, AccessKind access)
    {
        if (!PageTablePermits(mm, address, access, out _)) return true;
        var key = (device, address >> PageGeometry.PageShift);
        _permittedFaults.TryGetValue(key, out int n);
        _permittedFaults[key] = ++n;
        if (n <= _machine.Options.O5FaultLimit) return true;
        Report(new Violation(InvariantId.O5, $"device faulted {n} times on a {access} the CPU page table permits", agent, mm, address, Pfn.None, 0, 0, _machine.Step, "permitted faults"));
        return false;
    }

    /// <summary>O6 and O7 and any other finding built by a subsystem: report it (first one wins).</summary>
    public void Report(Violation violation)
    {
        if (Violation is not null) return;
        Violation = violation;
        _machine.Trace(TraceEvents.Violation, (ulong)violation.Id, violation.Address);
        _machine.Scheduler.StopRequested = true;
    }

    private bool CheckNotRevoked(string agent, MmId mm, ulong address, AccessKind access, Pfn pfn, uint gen, long filledAt)
    {
        bool stale = !(PageTablePermits(mm, address, access, out var target) && target == pfn);
        if (!stale) return true;
        foreach (var r in _revocations)
        {
            if (r.Mm != mm || address < r.Start || address >= r.End || !Responsible(r, address, filledAt)) continue;
            Report(new Violation(InvariantId.O3, $"{access} uses a translation (filled at step {filledAt}) that {Culprit(r)} (steps {r.Operation.Started}-{r.Step}) took away and did not flush", agent, mm, address, pfn, gen, gen, _machine.Step,
                "cached translation", Culprit(r)));
            return false;
        }
        return true;
    }

    private string Culprit(Revocation r) =>
        r.Operation.Thread >= 0 && r.Operation.Thread < _machine.Threads.Count ? $"{r.What} by {_machine.Threads[r.Operation.Thread].Name}" : r.What;

    /// <summary>
    /// Was <paramref name="r"/> responsible for flushing a translation of <paramref name="address"/> filled at
    /// <paramref name="filledAt"/>: did a change it covers take that page's translation away after the fill?
    /// </summary>
    private bool Responsible(Revocation r, ulong address, long filledAt)
    {
        foreach (var (mm, start, end, step, thread) in _changes)
            if (mm == r.Mm.Value && address >= start && address < end && step > filledAt && r.Operation.Covers(thread, step, r.Step)) return true;
        return false;
    }

    /// <summary>Does the current page table of <paramref name="mm"/> allow <paramref name="access"/> at <paramref name="address"/>?</summary>
    public bool PageTablePermits(MmId mm, ulong address, AccessKind access, out Pfn target)
    {
        target = Pfn.None;
        if (!_machine.PageTables.TryWalkQuiet(mm, address, out var slot, out var leaf)) return false;
        if (access == AccessKind.Write && !leaf.IsWritable) return false;
        if (access == AccessKind.Exec && !leaf.Has(PteFlags.Exec)) return false;
        target = Memory.PageTables.TargetPfn(leaf, slot.Level, address);
        return true;
    }
}

// The oracle: the generic invariants O1–O7 (ARCHITECTURE.md), checked as steps happen. Nothing here knows
// a scenario, a backend or an option: each check compares what simulated hardware or software just did
// against the state of frames, page tables and completed operations. The first violation stops the run;
// the machine turns it into a report with every thread's recent steps and the schedule to replay it.
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;

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
public sealed record Violation(
    InvariantId Id, string Message, string Agent, MmId Mm, ulong Address, Pfn Pfn,
    uint ExpectedGeneration, uint ActualGeneration, long Step)
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
public readonly record struct Revocation(MmId Mm, ulong Start, ulong End, long Step, string What);

/// <summary>The invariant checks of one machine.</summary>
public sealed class Oracle
{
    private readonly Machine _machine;
    private readonly List<Revocation> _revocations = [];
    private readonly Dictionary<(int Device, ulong Page), int> _permittedFaults = [];

    internal Oracle(Machine machine) => _machine = machine;

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
        Report(new Violation(InvariantId.O2, $"{via} reads page table {table}, which is {state}", agent, mm, address, table, expectedGeneration, gen, _machine.Step));
        return false;
    }

    /// <summary>
    /// O1, O3, O4: a CPU or device access reaches <paramref name="pfn"/> through a translation made when the frame
    /// had generation <paramref name="generationAtFill"/>. <paramref name="cached"/> says the translation came from
    /// a TLB (CPU or secondary) rather than a walk of the current page table.
    /// </summary>
    public bool CheckAccess(string agent, MmId mm, ulong address, AccessKind access, Pfn pfn, uint generationAtFill, bool cached)
    {
        var mem = _machine.Memory;
        var kind = mem.KindOf(pfn);
        uint gen = mem.GenerationOf(pfn);
        if (kind == FrameKind.RevokedDevicePfn)
        {
            Report(new Violation(InvariantId.O4, $"{access} reaches device {pfn} after its owner revoked it{(cached ? " (stale TLB entry)" : " (still mapped)")}", agent, mm, address, pfn, generationAtFill, gen, _machine.Step));
            return false;
        }
        if (kind == FrameKind.Free || gen != generationAtFill)
        {
            string state = kind == FrameKind.Free ? "freed" : $"freed and reused as {kind}";
            Report(new Violation(InvariantId.O1, $"{access} through a {(cached ? "cached translation" : "page-table entry")} reaches {pfn}, {state} since the translation was made", agent, mm, address, pfn, generationAtFill, gen, _machine.Step));
            return false;
        }
        if (cached && _revocations.Count > 0 && !CheckNotRevoked(agent, mm, address, access, pfn, gen)) return false;
        return true;
    }

    /// <summary>
    /// An munmap/mprotect/madvise on [start, end) of <paramref name="mm"/> returned: from now on no access may use a
    /// translation the page table no longer grants there (O3). In strict mode, a latent TLB entry that still
    /// grants more than the page table is flagged at once.
    /// </summary>
    public void OperationReturned(MmId mm, ulong start, ulong end, string what)
    {
        _revocations.Add(new Revocation(mm, start, end, _machine.Step, what));
        if (!_machine.Options.StrictO3) return;
        foreach (var cpu in _machine.Cpus.All)
        {
            foreach (var (asid, va, hit) in cpu.Tlb.LiveEntries())
            {
                if (asid != mm.Value) continue;
                ulong span = PageGeometry.Span(hit.Level);
                if (va + span <= start || va >= end) continue;
                ulong probe = Math.Max(va, start);
                var access = (hit.Flags & PteFlags.Write) != 0 ? AccessKind.Write : AccessKind.Read;
                if (!PageTablePermits(mm, probe, access, out _))
                {
                    Report(new Violation(InvariantId.O3, $"{what} returned while {cpu} still caches a {access} translation the page table no longer grants (strict)", cpu.ToString(), mm, probe, hit.Pfn, hit.Generation, hit.Generation, _machine.Step));
                    return;
                }
            }
        }
    }

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
        Report(new Violation(InvariantId.O5, $"device faulted {n} times on a {access} the CPU page table permits", agent, mm, address, Pfn.None, 0, 0, _machine.Step));
        return false;
    }

    /// <summary>O6 and O7 and any other finding built by a subsystem: report it (first one wins).</summary>
    public void Report(Violation violation)
    {
        if (Violation is not null) return;
        Violation = violation;
        _machine.Trace("VIOLATION", (ulong)violation.Id, violation.Address);
        _machine.Scheduler.StopRequested = true;
    }

    private bool CheckNotRevoked(string agent, MmId mm, ulong address, AccessKind access, Pfn pfn, uint gen)
    {
        foreach (var r in _revocations)
        {
            if (r.Mm != mm || address < r.Start || address >= r.End) continue;
            if (PageTablePermits(mm, address, access, out var target) && target == pfn) return true;
            Report(new Violation(InvariantId.O3, $"{access} uses a translation that {r.What} (returned at step {r.Step}) took away", agent, mm, address, pfn, gen, gen, _machine.Step));
            return false;
        }
        return true;
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

// The CPU's MMU as step sequences: a hardware page walk reads one level per step, starting from the
// deepest paging-structure-cache hit, and fills the TLB and walk cache; a memory access hits the TLB or
// walks. Hardware sets the accessed bit on a walk and the dirty bit on a write (a write through a TLB entry
// without the dirty bit walks again to set it, as x86 does). What an access reaches is handed to the oracle.
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine.Memory;
using Pv.Engine.Sched;

namespace Pv.Engine.Cpu;

/// <summary>Why an access or walk did not complete.</summary>
internal enum AccessStatus : byte
{
    /// <summary>The access completed.</summary>
    Ok,
    /// <summary>No present translation: a page fault.</summary>
    NotPresent,
    /// <summary>A translation exists but does not allow the access: a protection fault.</summary>
    Protection,
    /// <summary>The oracle stopped the run during the access.</summary>
    Violation,
}

/// <summary>The outcome of a walk or an access, reused by a thread across operations.</summary>
internal sealed class AccessResult
{
    /// <summary>How it ended.</summary>
    public AccessStatus Status { get; internal set; }
    /// <summary>The entry where the walk stopped (the leaf, or the first non-present entry).</summary>
    public PteSlot Slot { get; internal set; }
    /// <summary>The value read there.</summary>
    public PageTableEntry Entry { get; internal set; }
    /// <summary>The frame reached, when the access completed.</summary>
    public Pfn Pfn { get; internal set; }
    /// <summary>Served from the TLB.</summary>
    public bool TlbHit { get; internal set; }
    /// <summary>A write's value to store (set before the access); after a completed read or fetch, the value it saw.</summary>
    public ulong Value { get; internal set; }
}

/// <summary>Hardware walks and accesses.</summary>
internal static class Mmu
{
    /// <summary>First address of the kernel half (x86-64's canonical upper half).</summary>
    public const ulong KernelStart = 0xffff_8000_0000_0000;

    /// <summary>
    /// A hardware walk of <paramref name="mm"/> for <paramref name="address"/> on <paramref name="cpu"/>, one level per
    /// step. Fills the walk cache on the way and the TLB at the leaf; sets accessed (and dirty on a write). With
    /// <paramref name="performAccess"/> the access is made, and checked by the oracle, in the leaf's step. The walk is one
    /// of the CPU's reusable <see cref="HardwareWalk"/>s: no allocation.
    /// </summary>
    public static IEnumerable<Step> Walk(Machine m, SimCpu cpu, MmId mm, ulong address, AccessKind access, AccessResult result, bool speculative = false, bool performAccess = false) =>
        cpu.RentWalk().Start(m, mm, address, access, result, speculative, performAccess);

    /// <summary>
    /// The TLB-hit path of an access, as a plain method so a hit allocates nothing: if the TLB holds a translation
    /// that allows the access (and, for a write, already has the dirty bit), make the access, let the oracle check
    /// it, and return true; the caller yields once for the step. Otherwise return false and change nothing.
    /// </summary>
    public static bool TryAccessTlbHit(Machine m, SimCpu cpu, ulong address, AccessKind access, AccessResult result)
    {
        var mm = address >= KernelStart ? MmId.InitMm : cpu.LoadedMm;
        if (!cpu.Tlb.TryLookup(mm.Value, address, out var hit) || !Permits(hit.Flags, access)
            || (access == AccessKind.Write && (hit.Flags & PteFlags.Dirty) == 0))
            return false;
        m.Metrics.TlbHits.Increment();
        m.Cost.Charge(cpu.Id, m.Cost.Model.TlbHit);
        m.Trace(TraceEvents.TlbHit, address, hit.Pfn.Value);
        result.TlbHit = true;
        result.Pfn = hit.Pfn;
        result.Status = m.Oracle.CheckAccess(m.CurrentAgent, mm, address, access, hit.Pfn, hit.Generation, cached: true, hit.FilledAt)
            ? AccessStatus.Ok : AccessStatus.Violation;
        if (result.Status == AccessStatus.Ok) Touch(m, hit.Pfn, access, result);
        return true;
    }

    /// <summary>
    /// The data a completed access moves, in the access's own step: a write stores <see cref="AccessResult.Value"/> in the
    /// frame, a read or fetch loads it from there.
    /// </summary>
    internal static void Touch(Machine m, Pfn pfn, AccessKind access, AccessResult result)
    {
        if (access == AccessKind.Write) m.Memory.Store(pfn, result.Value);
        else result.Value = m.Memory.ContentOf(pfn);
    }

    /// <summary>
    /// One memory access by <paramref name="cpu"/> in its loaded mm (kernel addresses: init_mm): a TLB hit is one step;
    /// a TLB entry that forbids the access is a protection fault; a miss (or a write through a clean entry) walks.
    /// The oracle checks what the access reached. A fault is reported in <paramref name="result"/>, not handled here.
    /// </summary>
    public static IEnumerable<Step> Access(Machine m, SimCpu cpu, ulong address, AccessKind access, AccessResult result)
    {
        result.TlbHit = false;
        if (TryAccessTlbHit(m, cpu, address, access, result))
        {
            yield return Step.Yield;
            yield break;
        }
        // The kernel half translates through init_mm's tables (shared by every address space) with global entries.
        var mm = address >= KernelStart ? MmId.InitMm : cpu.LoadedMm;
        if (cpu.Tlb.TryLookup(mm.Value, address, out var hit) && !Permits(hit.Flags, access))
        {
            // x86 and arm64 fault on a TLB entry that forbids the access; the fault handler decides.
            result.Status = AccessStatus.Protection;
            m.Trace(TraceEvents.TlbProtectionFault, address, hit.Pfn.Value);
            yield return Step.Yield;
            yield break;
        }
        // A miss, or a write through an entry without the dirty bit: walk, so the hardware can set it.
        m.Metrics.TlbMisses.Increment();
        yield return Step.Call(Walk(m, cpu, mm, address, access, result, performAccess: true));
    }

    /// <summary>
    /// A CPU's speculative walker: at any time the hardware may walk any address of whatever mm it has loaded,
    /// lazily held ones included, filling its TLB and walk cache. Runs <paramref name="walks"/> walks over
    /// <paramref name="addresses"/> in turn.
    /// </summary>
    public static IEnumerable<Step> Speculate(Machine m, SimCpu cpu, IReadOnlyList<ulong> addresses, int walks)
    {
        var result = new AccessResult();
        for (int i = 0; i < walks && addresses.Count > 0; i++)
        {
            var mm = cpu.LoadedMm;
            if (mm.IsInitMm)
            {
                yield return Step.Yield;
                continue;
            }
            yield return Step.Call(Walk(m, cpu, mm, addresses[i % addresses.Count], AccessKind.Read, result, speculative: true));
            if (result.Status == AccessStatus.Violation) yield break;
        }
    }

    internal static bool Permits(PteFlags flags, AccessKind access) => access switch
    {
        AccessKind.Write => (flags & PteFlags.Write) != 0,
        AccessKind.Exec => (flags & PteFlags.Exec) != 0,
        _ => true,
    };
}

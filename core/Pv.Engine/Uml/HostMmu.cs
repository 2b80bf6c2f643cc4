// User-Mode Linux seen from the host: a UML process has no hardware TLB of its own; its accesses go through
// the mappings of its host process (init_mm's for kernel addresses), which map UML's physical-memory file
// (frame n at offset n << PAGE_SHIFT). A missing or too-narrow host mapping is a host SEGV that UML's fault
// path handles: handle_mm_fault for a user address, the arch's kernel SEGV handler for a kernel one, then
// the access is retried; a user fault returns to user mode through the userspace loop, a sync point.
//
// O6 (host mapping divergence) is checked here, where a UML process would act on a wrong mapping: every
// time a process resumes in user mode, over its VMAs; after a kernel flush (vfree) returned, over that
// range of init_mm; on every kernel access that a host mapping serves; and when a kernel access still
// faults although init_mm's page table grants it. A page agrees when the host gives exactly the prot of
// UML's rule (read/write/exec as the PTE allows; not young: no read or write; clean: no write) on the frame
// the PTE maps, and nothing where no PTE is present.
using Pv.Abstractions.Host;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine.Cpu;
using Pv.Engine.Mm;
using Pv.Engine.Oracle;
using Pv.Engine.Sched;

namespace Pv.Engine.Uml;

/// <summary>Accesses, sync points and the O6 check of a machine whose backend uses host mappings as its TLB.</summary>
internal static class HostMmu
{
    /// <summary>Where frame <paramref name="pfn"/> lies in UML's physical-memory file.</summary>
    public static ulong OffsetOf(Pfn pfn) => pfn.Value << PageGeometry.PageShift;

    /// <summary>The frame <paramref name="mapping"/> reaches at <paramref name="address"/>.</summary>
    public static Pfn FrameAt(in HostMapping mapping, ulong address) =>
        new((mapping.Offset + (address - mapping.Address)) >> PageGeometry.PageShift);

    /// <summary>The host prot UML's rule gives a PTE: none unless present; not young: no read or write; clean: no write.</summary>
    public static HostProt ProtOf(PageTableEntry pte)
    {
        if (!pte.IsPresent) return HostProt.None;
        var prot = pte.Has(PteFlags.Exec) ? HostProt.Exec : HostProt.None;
        if (!pte.Has(PteFlags.Accessed)) return prot;
        prot |= HostProt.Read;
        if (pte.IsWritable && pte.Has(PteFlags.Dirty)) prot |= HostProt.Write;
        return prot;
    }

    /// <summary>
    /// One access by <paramref name="t"/> through its host process's mappings: on a host SEGV run UML's fault path and
    /// retry, at most <paramref name="maxFaults"/> times. A user fault, handled or ending in a signal, resumes through
    /// <see cref="ReturnToUser"/>; so does a task the scheduler switches to.
    /// </summary>
    public static IEnumerable<Step> Access(Machine m, SimThread t, ulong address, AccessKind access, FaultOutcome? outcome = null, int maxFaults = 4)
    {
        outcome ??= new FaultOutcome();
        bool kernel = address >= Mmu.KernelStart;
        var mm = kernel ? m.InitMm : t.Mm ?? throw new ProgramException($"{t} has no mm for a user access");
        var cpu = t.Cpu ?? m.Cpus[0];
        for (int i = 0; ; i++)
        {
            if (!kernel && t.SwitchedIn)
            {
                // Switched to after another task ran on this CPU: the task resumes its host process through UML's sync
                // point (userspace() -> current_mm_sync) before its next user instruction runs.
                m.Arch.ReturnToUser(mm.Id);
                m.Trace(TraceEvents.ResumeAfterContextSwitch, (ulong)mm.Id.Value, 0);
            }
            if (m.HostMappings.TryLookup(mm.Id, address, out var hm) && Allows(hm.Prot, access))
            {
                var pfn = FrameAt(hm, address);
                m.Cost.Charge(cpu.Id, m.Cost.Model.TlbHit);
                m.Trace(TraceEvents.HostAccess, address, pfn.Value);
                // A host mapping records no frame generation: what the oracle can tell here is a freed frame, a revoked
                // device PFN, or a permission a returned munmap/mprotect took away; a reused frame shows as O6.
                bool ok = m.Oracle.CheckAccess(m.CurrentAgent, mm.Id, address, access, pfn, m.Memory.GenerationOf(pfn), cached: true, m.HostMappings.FilledAt(mm.Id, address))
                    && (!kernel || CheckRange(m, mm, address & ~(PageGeometry.PageSize - 1), (address & ~(PageGeometry.PageSize - 1)) + PageGeometry.PageSize, "serves a kernel access"));
                outcome.Access = ok ? AccessStatus.Ok : AccessStatus.Violation;
                if (ok && access == AccessKind.Write) m.Memory.Store(pfn, outcome.Value);
                else if (ok) outcome.Value = m.Memory.ContentOf(pfn);
                yield return Step.Yield;
                yield break;
            }
            outcome.Access = hm.Length == 0 ? AccessStatus.NotPresent : AccessStatus.Protection;
            m.Metrics.Counter("uml.host_segv").Increment();
            m.Trace(TraceEvents.HostSegv, address, (ulong)access);
            if (kernel)
            {
                // segv() in kernel mode runs in the host's signal handler, in the same step as the SEGV: nothing can
                // sync init_mm in between. Only the arch can repair a kernel mapping (UML syncs init_mm's pending range).
                m.Cost.Charge(cpu.Id, m.Cost.Model.PageFault);
                outcome.Result = i < maxFaults && m.Arch.KernelFault(address) ? FaultResult.Handled : FaultResult.Sigsegv;
                m.Trace(TraceEvents.KernelSegvHandled, address, (ulong)outcome.Result);
                if (outcome.Result != FaultResult.Handled) CheckKernelFault(m, address, access);
                yield return Step.Yield;
                if (outcome.Result == FaultResult.Handled) continue;
                yield break;
            }
            yield return Step.Yield;
            if (i >= maxFaults)
            {
                outcome.Result = FaultResult.Sigsegv;
                yield break;
            }
            outcome.Faults++;
            yield return Step.Call(Fault.HandleMmFault(m, t, mm, address, access, outcome));
            // Handled or not, the task resumes in user mode (a SIGSEGV/SIGBUS is delivered to a handler there).
            yield return Step.Call(ReturnToUser(m, t));
            if (outcome.Result != FaultResult.Handled || m.Oracle.Violation is not null) yield break;
        }
    }

    /// <summary>
    /// The process of <paramref name="t"/> resumes in user mode (after a syscall or a fault): the arch's sync point,
    /// then O6 over its VMAs.
    /// </summary>
    public static IEnumerable<Step> ReturnToUser(Machine m, SimThread t)
    {
        var mm = t.Mm ?? throw new ProgramException($"{t} has no mm to return to");
        m.Arch.ReturnToUser(mm.Id);
        m.Trace(TraceEvents.ReturnToUser, (ulong)mm.Id.Value, 0);
        CheckMm(m, mm);
        yield return Step.Yield;
    }

    /// <summary><c>vfree</c>, then O6 over the freed range of init_mm: its flush_tlb_kernel_range has returned.</summary>
    public static IEnumerable<Step> Vfree(Machine m, SimThread t, ulong address, int pages)
    {
        yield return Step.Call(KernelMm.Vfree(m, t, address, pages));
        CheckRange(m, m.InitMm, address, address + (ulong)pages * PageGeometry.PageSize, "after vfree's flush_tlb_kernel_range returned");
        yield return Step.Yield;
    }

    /// <summary>O6 over every VMA of <paramref name="mm"/>, as it resumes in user mode. False if it reported a violation.</summary>
    public static bool CheckMm(Machine m, MmStruct mm)
    {
        foreach (var vma in mm.Vmas)
            if (!CheckRange(m, mm, vma.Start, vma.End, "as the process resumes in user mode")) return false;
        return true;
    }

    /// <summary>
    /// O6 over [start, end) of <paramref name="mm"/>: the host must give exactly the rule's prot on the frame each present
    /// PTE maps, and nothing where no PTE is present, except where a gather still in flight took the translation away.
    /// False if it reported a violation.
    /// </summary>
    public static bool CheckRange(Machine m, MmStruct mm, ulong start, ulong end, string when)
    {
        for (ulong a = start; a < end; a += PageGeometry.PageSize)
        {
            bool present = m.PageTables.TryWalkQuiet(mm.Id, a, out var slot, out var leaf);
            var frame = present ? Memory.PageTables.TargetPfn(leaf, slot.Level, a) : Pfn.None;
            var want = present ? ProtOf(leaf) : HostProt.None;
            bool mapped = m.HostMappings.TryLookup(mm.Id, a, out var hm);
            var have = mapped ? hm.Prot : HostProt.None;
            var hostFrame = mapped ? FrameAt(hm, a) : Pfn.None;
            if (have == want && (have == HostProt.None || hostFrame == frame)) continue;
            // A host mapping that still grants what a PTE change took away is stale only once the change's gather has
            // flushed (marked the range): until its tlb_finish_mmu the deferral is legal, as for a CPU's TLB.
            if (mapped && m.Oracle.ChangeAwaitsFlush(mm, a)) continue;
            string pte = present ? $"the PTE maps {frame} with prot {want}" : "no PTE is present";
            string host = mapped ? $"the host maps {hostFrame} with prot {have}" : "the host maps nothing";
            m.Oracle.Report(new Violation(InvariantId.O6, $"{host} where {pte}, {when}", m.CurrentAgent, mm.Id, a,
                mapped ? hostFrame : frame, 0, 0, m.Step));
            return false;
        }
        return true;
    }

    /// <summary>A kernel access gave up faulting: O6 if init_mm's page table grants it, for then the host mapping should.</summary>
    private static void CheckKernelFault(Machine m, ulong address, AccessKind access)
    {
        if (!m.Oracle.PageTablePermits(MmId.InitMm, address, access, out var pfn)) return;
        m.Oracle.Report(new Violation(InvariantId.O6, $"a kernel {access} still faults on the host although init_mm's page table grants it",
            m.CurrentAgent, MmId.InitMm, address, pfn, 0, 0, m.Step));
    }

    private static bool Allows(HostProt prot, AccessKind access) => access switch
    {
        AccessKind.Write => (prot & HostProt.Write) != 0,
        AccessKind.Exec => (prot & HostProt.Exec) != 0,
        _ => (prot & HostProt.Read) != 0,
    };
}

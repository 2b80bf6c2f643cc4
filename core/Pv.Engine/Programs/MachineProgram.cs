// Loads a machine program into a fresh Machine: the files' pages and the devices' PFNs, each mm with its
// VMAs and the PTEs a completed fault would have written for its populated ranges, every thread with its
// operations queued as the engine's step sequences (each CPU holds the mm of its first thread), and then
// the allocation failures to inject (they hit the operations, never the setup). Operations that name an mm
// created at run time (a fork child) resolve it when they start, and note where they were written for any
// ProgramException. Loading is deterministic, so a schedule replays bit for bit.
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Abstractions.Notifiers;
using Pv.Engine.Devices;
using Pv.Engine.Host;
using Pv.Engine.Cpu;
using Pv.Engine.Memory;
using Pv.Engine.Mm;
using Pv.Engine.Oracle;
using Pv.Engine.Sched;
using Pv.Engine.Uml;
using Pv.Engine.Walk;

namespace Pv.Engine.Programs;

/// <summary>What a machine holds at setup and what its threads run.</summary>
/// <param name="Mmu">How CPU accesses translate.</param>
/// <param name="Files">Files and devices.</param>
/// <param name="Mms">The mms.</param>
/// <param name="Threads">The threads, in entity-id order, each with the operations it runs.</param>
/// <param name="FailAlloc">Allocation failures injected at setup, per allocation site.</param>
public sealed record MachineProgram(
    MmuKind Mmu, IReadOnlyList<FileDecl> Files, IReadOnlyList<MmDecl> Mms, IReadOnlyList<ThreadDecl> Threads, IReadOnlyDictionary<AllocSite, int> FailAlloc)
{
    /// <summary>
    /// Sets <paramref name="m"/> up and queues every thread's operations; returns each thread's entity id by name.
    /// </summary>
    /// <param name="m">A machine with its backend attached and nothing run yet.</param>
    /// <param name="secondaryMmu">The SMMU device threads translate through (resolved on the first device), or null when there is none.</param>
    /// <param name="outcomes">Where every operation's outcome goes, and whose final condition is checked when every thread
    /// finished; null when nothing asks for outcomes (an operation's own assertion is checked either way).</param>
    public IReadOnlyDictionary<string, int> Load(Machine m, Func<ISecondaryMmu>? secondaryMmu, OutcomeLog? outcomes = null)
    {
        var files = new Dictionary<string, AddressSpace>(StringComparer.Ordinal);
        foreach (var f in Files)
        {
            var space = new AddressSpace(f.Name);
            for (int p = 0; p < f.Pages; p++) space.Pages[(ulong)p] = m.Memory.Alloc(f.IsDevice ? FrameKind.DevicePfn : FrameKind.DataPage);
            files[f.Name] = space;
        }
        var mms = new Dictionary<string, MmStruct>(StringComparer.Ordinal);
        foreach (var decl in Mms) mms[decl.Name] = SetUpMm(m, decl, files);
        var ctx = new Context(m, mms, files, Mmu, [], [], outcomes);
        outcomes?.StartRun();
        m.OnCompleted = outcomes is null ? null : () => Completed(m, outcomes);
        var loaded = new bool[m.Cpus.Count];
        var ids = new Dictionary<string, int>(StringComparer.Ordinal);
        IopfQueue? iopf = null;
        ISecondaryMmu? smmu = null;
        foreach (var t in Threads)
        {
            var mm = t.Mm is null ? null : NamedMm(ctx, t.Mm);
            SimThread thread;
            if (t.Kind == ThreadKind.Device)
            {
                // The IOPF workqueue's thread is added before the first device.
                smmu ??= (secondaryMmu ?? throw new ProgramException($"{t.Name} is a device thread but the machine has no secondary MMU"))();
                iopf ??= new IopfQueue(m);
                var device = SvaDevice.Attach(m, smmu, iopf, mm!, t.Ats);
                ctx.Devices[device.Thread] = device;
                thread = device.Thread;
            }
            else if (t.Kind == ThreadKind.Host) thread = m.AddThread(t.Name, t.Kind, null, null);   // the hypervisor runs on no guest CPU
            else
            {
                if (mm is not null && !loaded[t.Cpu])
                {
                    loaded[t.Cpu] = true;
                    m.Cpus[t.Cpu].LoadMm(mm.Id);
                }
                thread = m.AddThread(t.Name, t.Kind, t.Cpu, mm);
            }
            ids[t.Name] = thread.Id;
            ctx.Threads[t.Name] = thread;
            foreach (var op in t.Ops)
                for (int k = 0; k < op.Times; k++) thread.Enqueue(Deferred(ctx, thread, op));
        }
        // The failures are for the operations under test, not for the state the program starts from.
        foreach (var (site, n) in FailAlloc) m.Memory.InjectFailures(site, n);
        return ids;
    }

    private sealed record Context(Machine M, Dictionary<string, MmStruct> Mms, Dictionary<string, AddressSpace> Files, MmuKind Mmu,
        Dictionary<SimThread, SvaDevice> Devices, Dictionary<string, SimThread> Threads, OutcomeLog? Outcomes);

    /// <summary>Sets up one mm; a declaration the kernel cannot set up as written is reported at its line.</summary>
    private static MmStruct SetUpMm(Machine m, MmDecl decl, Dictionary<string, AddressSpace> files)
    {
        MmStruct mm;
        try { mm = m.CreateMm(); }
        catch (ProgramException e) { throw e.Locate(decl.At, null); }
        foreach (var v in decl.Vmas)
        {
            try { mm.InsertVma(new Vma(mm, v.Start, v.End, v.Flags, v.File is null ? null : files[v.File], v.PgOff)); }
            catch (ProgramException e) { throw e.Locate(v.At, null); }
        }
        foreach (var p in decl.Populate)
        {
            try
            {
                for (ulong a = p.Start; a < p.Start + p.Length; a += PageGeometry.PageSize)
                    Populate(m, mm, mm.FindVma(a)!, a, p.ReadOnly);
            }
            catch (ProgramException e) { throw e.Locate(p.At, null); }
        }
        return mm;
    }

    /// <summary>The PTE a completed fault (or remap_pfn_range) would have written for <paramref name="address"/>.</summary>
    private static void Populate(Machine m, MmStruct mm, Vma vma, ulong address, bool readOnly)
    {
        var flags = PteFlags.Present | PteFlags.User | PteFlags.Accessed
            | ((vma.Flags & VmaFlags.Write) != 0 ? PteFlags.Write | PteFlags.Dirty : 0)
            | ((vma.Flags & VmaFlags.Exec) != 0 ? PteFlags.Exec : 0);
        Pfn page;
        if (vma.File is { } file)
        {
            ulong index = vma.PgOff + ((address - vma.Start) >> PageGeometry.PageShift);
            if ((vma.Flags & (VmaFlags.PfnMap | VmaFlags.MixedMap)) != 0)
            {
                if (!file.Pages.TryGetValue(index, out page)) return;   // the driver has no PFN there: nothing to map
                flags |= PteFlags.Special;
            }
            else
            {
                // The page cache holds a reference of its own (as a fault that reads the page in leaves it); the
                // mapping takes another, so a zap never frees a page the cache still holds.
                if (!file.Pages.TryGetValue(index, out page)) file.Pages[index] = page = m.Memory.Alloc(FrameKind.DataPage);
                m.Memory.Get(page);
            }
            if ((vma.Flags & VmaFlags.Shared) == 0) flags &= ~(PteFlags.Write | PteFlags.Dirty);   // private file page: COW on write
        }
        else page = m.Memory.Alloc(FrameKind.DataPage);
        if (readOnly) flags &= ~(PteFlags.Write | PteFlags.Dirty);
        m.PageTables.Populate(mm.Id, address, PageTableEntry.Make(page, flags));
    }

    /// <summary>
    /// Resolves an operation when its thread reaches it (a fork child exists only by then); no step of its own. The thread
    /// records where the operation was written, so an operation the kernel refuses is reported at its line. Once it
    /// returned, its outcome is logged and its assertion checked (in the thread's next step, before anything else it does).
    /// </summary>
    private static IEnumerable<Step> Deferred(Context ctx, SimThread thread, OpDecl op)
    {
        thread.Operation = op.At;
        yield return Step.Call(Operation(ctx, thread, op, out var outcome));
        if (ctx.Outcomes is null && op.Assert is null) yield break;
        var o = outcome();
        ctx.Outcomes?.Record(op.Label, o);
        if (op.Assert is { } a && !a.Holds(o))
        {
            var m = ctx.M;
            m.Oracle.Report(new Violation(InvariantId.Assertion, $"{op.Label} ({op.At}) returned {o}{Faults(o)} where it asserts {a}",
                thread.Name, thread.Mm?.Id ?? default, op.Address, Pfn.None, 0, 0, m.Step, $"assertion at {a.At} returned {o}"));
        }
    }

    private static string Faults(OpOutcome o) => o.Faults == 0 ? "" : o.Faults == 1 ? " after 1 fault" : $" after {o.Faults} faults";

    /// <summary>Every thread finished: count the final state, and check the final condition a single run can break.</summary>
    private static void Completed(Machine m, OutcomeLog log)
    {
        log.Complete();
        if (log.Final is { } f && f.BrokenBy(n => log[n]))
            m.Oracle.Report(new Violation(InvariantId.Assertion, $"the run ends with {log.FinalState()}, which breaks `{f}` ({f.At})",
                "final state", default, 0, Pfn.None, 0, 0, m.Step, $"final condition at {f.At}"));
    }

    /// <summary>The mm called <paramref name="name"/>: a fork child exists only once its fork ran.</summary>
    private static MmStruct NamedMm(Context ctx, string name) =>
        ctx.Mms.TryGetValue(name, out var mm) ? mm : throw new ProgramException($"mm '{name}' does not exist yet (its fork has not run)");

    /// <summary>The step sequence of <paramref name="op"/>, and how to read what it returned once it has run.</summary>
    private static IEnumerable<Step> Operation(Context ctx, SimThread t, OpDecl op, out Func<OpOutcome> outcome)
    {
        var m = ctx.M;
        MmStruct Mm() => op.Name is { } n ? NamedMm(ctx, n) : t.Mm ?? throw new ProgramException($"{t.Name} has no mm");
        bool host = ctx.Mmu == MmuKind.HostMappings;
        outcome = static () => OpOutcome.Ok;
        switch (op.Kind)
        {
            case OpKind.Read or OpKind.Write or OpKind.Exec:
                var access = op.Kind switch { OpKind.Read => AccessKind.Read, OpKind.Write => AccessKind.Write, _ => AccessKind.Exec };
                var fault = new FaultOutcome { Value = op.Value };
                outcome = () => AccessOutcome(fault, access);
                return host ? HostMmu.Access(m, t, op.Address, access, fault) : Fault.UserAccess(m, t, op.Address, access, fault);
            case OpKind.Gup:
                var gup = new GupResult();
                outcome = () => gup.Pages.Count > 0 || gup.Error is null ? new OpOutcome(OutcomeKind.Value, gup.Pages.Count)
                    : OpOutcome.Error(gup.Error == FaultResult.Oom ? ENOMEM : EFAULT);
                return Gup.GetUserPages(m, t, t.Mm!, op.Address, (int)op.Length, op.Write, gup);
            case OpKind.GupFast:
                var fast = new GupResult();
                outcome = () => new OpOutcome(OutcomeKind.Value, fast.Pages.Count);
                return Gup.GetUserPagesFast(m, t, t.Mm!, op.Address, op.Write, fast);
            case OpKind.MadviseGuard or OpKind.MadviseGuardRemove:
                var walk = new WalkResult();
                outcome = () => walk.Value == 0 ? OpOutcome.Ok : OpOutcome.Error(-walk.Value);
                return op.Kind == OpKind.MadviseGuard
                    ? Madvise.GuardInstall(m, t, t.Mm!, op.Address, op.Length, walk)
                    : Madvise.GuardRemove(m, t, t.Mm!, op.Address, op.Length, walk);
            case OpKind.DmaRead: return ctx.Devices[t].Access(op.Address, AccessKind.Read);
            case OpKind.DmaWrite: return ctx.Devices[t].Access(op.Address, AccessKind.Write);
            case OpKind.Unbind: return ctx.Devices[t].Unbind();
            case OpKind.WaitFor: return WaitFor(ctx.Threads[op.Name!]);
            case OpKind.VcpuPreempt: return VcpuScheduling.Preempt(m, t, m.Cpus[(int)op.Address], op.Count);
            case OpKind.VcpuResume: return VcpuScheduling.Resume(m, m.Cpus[(int)op.Address]);
            case OpKind.Vfree when host: return HostMmu.Vfree(m, t, op.Address, (int)(op.Length / PageGeometry.PageSize));
        }
        var work = Syscall(ctx, t, op, Mm);
        // Under host mappings a user thread's syscall returns to user mode through UML's sync point.
        return host && t.Kind == ThreadKind.User && op.Kind is not (OpKind.IrqOff or OpKind.IrqOn or OpKind.RcuReadLock or OpKind.RcuReadUnlock)
            ? ReturnToUser(m, t, work) : work;
    }

    private const int ENOMEM = 12, EFAULT = 14;

    /// <summary>What a user access returned: the value a read saw, or the signal it ended in.</summary>
    private static OpOutcome AccessOutcome(FaultOutcome f, AccessKind access) =>
        f.Access == AccessStatus.Ok
            ? access == AccessKind.Write ? OpOutcome.Ok with { Faults = f.Faults } : new OpOutcome(OutcomeKind.Value, (long)f.Value, f.Faults)
            : new OpOutcome(f.Result switch
            {
                FaultResult.Sigsegv => OutcomeKind.Segv,
                FaultResult.Sigbus => OutcomeKind.Sigbus,
                FaultResult.Oom => OutcomeKind.Oom,
                _ => OutcomeKind.Retry,
            }, 0, f.Faults);

    private static IEnumerable<Step> ReturnToUser(Machine m, SimThread t, IEnumerable<Step> work)
    {
        yield return Step.Call(work);
        yield return Step.Call(HostMmu.ReturnToUser(m, t));
    }

    private static IEnumerable<Step> WaitFor(SimThread other)
    {
        yield return Step.Wait(new Finished(other));
    }

    private sealed class Finished(SimThread thread) : IWaitCondition
    {
        public bool IsSatisfied => thread.IsDone;
        public string Describe() => $"{thread.Name} to finish";
    }

    private static IEnumerable<Step> Syscall(Context ctx, SimThread t, OpDecl op, Func<MmStruct> Mm)
    {
        var m = ctx.M;
        switch (op.Kind)
        {
            case OpKind.Mmap:
                return Mmap.Run(m, t, t.Mm!, op.Address, op.Length, op.Flags, op.Name is { } f ? ctx.Files[f] : null, op.Address2);
            case OpKind.Munmap: return Munmap.Run(m, t, t.Mm!, op.Address, op.Length);
            case OpKind.Mprotect: return Mmap.Mprotect(m, t, t.Mm!, op.Address, op.Length, op.Flags);
            case OpKind.Mremap: return Mmap.Mremap(m, t, t.Mm!, op.Address, op.Length, op.Address2);
            case OpKind.MadviseDontneed: return Munmap.MadviseDontneed(m, t, t.Mm!, op.Address, op.Length);
            case OpKind.MadviseFree: return KernelMm.MadviseFree(m, t, t.Mm!, op.Address, op.Length);
            case OpKind.Fork: return Fork(ctx, t, op.Name!);
            case OpKind.Exit: return Munmap.ExitMmap(m, t, Mm());
            case OpKind.UnmapMappingRange: return Munmap.UnmapMappingRange(m, t, ctx.Files[op.Name!], op.Address2, op.Length);
            case OpKind.Revoke: return Munmap.RevokePfns(m, t, ctx.Files[op.Name!], op.Address2, op.Length);
            case OpKind.Truncate: return Munmap.TruncatePagecacheRange(m, t, ctx.Files[op.Name!], op.Address2, op.Length);
            case OpKind.Reclaim: return KernelMm.Reclaim(m, t);
            case OpKind.Collapse: return Khugepaged.CollapsePteMappedThp(m, t, t.Mm!, op.Address);
            case OpKind.Vmalloc: return KernelMm.Vmalloc(m, t, op.Address, (int)(op.Length / PageGeometry.PageSize));
            case OpKind.Vfree: return KernelMm.Vfree(m, t, op.Address, (int)(op.Length / PageGeometry.PageSize));
            case OpKind.SwitchMm: return KernelMm.SwitchMm(m, t, Mm());
            case OpKind.Lazy: return KernelMm.EnterLazy(m, t);
            case OpKind.IrqOff: return OneStep(() => t.Cpu!.IrqDisable());
            case OpKind.IrqOn: return OneStep(() => t.Cpu!.IrqEnable());
            case OpKind.RcuReadLock: return OneStep(() => t.Cpu!.RcuReadLock());
            case OpKind.RcuReadUnlock: return OneStep(() => t.Cpu!.RcuReadUnlock());
            case OpKind.Speculate: return Pv.Engine.Cpu.Mmu.Speculate(m, t.Cpu!, op.Addresses, op.Count);
            default: throw new InvalidOperationException($"operation {op.Kind} has no step sequence");
        }
    }

    private static IEnumerable<Step> Fork(Context ctx, SimThread t, string child)
    {
        var holder = new MmStruct[1];
        yield return Step.Call(Mmap.Fork(ctx.M, t, t.Mm!, holder));
        ctx.Mms[child] = holder[0];
    }

    private static IEnumerable<Step> OneStep(Action action)
    {
        action();
        yield return Step.Yield;
    }
}

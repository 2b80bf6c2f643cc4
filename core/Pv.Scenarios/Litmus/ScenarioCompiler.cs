// Turns a checked scenario into machines: one fresh Machine per schedule, composed with the backend
// through PvMachine.Create (the real loader, DI and counting decorator), with the scenario's files,
// devices, mms, VMAs and populated pages set up, each CPU holding the mm of its first thread, and every
// thread's operations queued as the engine's step sequences. Operations that name an mm created at run time
// (a fork child) resolve it when they start. Setup is deterministic, so a schedule replays bit for bit.
// Threads or operations can be left out (the minimiser does so): the build never depends on anything else.
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Microsoft.Extensions.DependencyInjection;
using Pv.Abstractions.Notifiers;
using Pv.Engine;
using Pv.Engine.Devices;
using Pv.Engine.Host;
using Pv.Engine.Memory;
using Pv.Engine.Mm;
using Pv.Engine.Sched;
using Pv.Engine.Uml;
using Pv.Engine.Walk;
using Pv.Hosting;
using Pv.Hosting.Composition;

namespace Pv.Scenarios.Litmus;

/// <summary>Operations left out of a scenario (by the minimiser): whole threads, or single operations.</summary>
/// <param name="Threads">Names of threads left out.</param>
/// <param name="Ops">(thread name, index of the operation in its list) left out.</param>
public sealed record Omissions(IReadOnlyList<string> Threads, IReadOnlyList<(string Thread, int Op)> Ops)
{
    /// <summary>Nothing left out.</summary>
    public static Omissions None { get; } = new([], []);
}

/// <summary>A scenario bound to a backend: builds one machine per schedule.</summary>
public sealed class CompiledScenario : IDisposable
{
    private readonly MachineFactory _machines;
    private readonly MachineFactory? _smmu;
    private readonly MachineOptions _options;
    private IDisposable? _last;
    private IServiceScope? _smmuServices;

    /// <summary>
    /// Binds <paramref name="scenario"/> (threads present: litmus, or a generated workload) to <paramref name="backend"/>,
    /// and its SVA threads to the secondary-MMU backend <paramref name="smmu"/>.
    /// </summary>
    public CompiledScenario(Scenario scenario, ResolvedBackend backend, ResolvedBackend? smmu, Omissions? omissions = null, int? traceDepth = null)
    {
        _smmu = smmu is null ? null : new MachineFactory(smmu);
        Scenario = scenario;
        Omitted = omissions ?? Omissions.None;
        // One machine, one cost table: the backend's costs and the secondary-MMU backend's declared ones. A cost line's
        // key must be one of them; a bad one is reported where the scenario wrote it.
        var costs = smmu is null ? backend.Costs : backend.Costs.Including(smmu.Costs);
        var badCosts = scenario.Cost.Select(c => (c.At, Problem: costs.KeyProblem(c.Key))).Where(c => c.Problem is not null)
            .Select(c => new ScenarioDiagnostic(c.At, c.Problem!)).ToList();
        if (badCosts.Count > 0) throw new ScenarioException(badCosts);
        _machines = new MachineFactory(backend with { Costs = costs.With(scenario.Cost.Select(c => KeyValuePair.Create(c.Key, c.Value))) });
        Backend = backend.Name;
        _options = traceDepth is int d ? scenario.Options with { TraceDepth = d } : scenario.Options;
    }

    /// <summary>The scenario.</summary>
    public Scenario Scenario { get; }

    /// <summary>What is left out.</summary>
    public Omissions Omitted { get; }

    /// <summary>The threads that run, after omissions, in entity-id order.</summary>
    public IEnumerable<ThreadDecl> Threads => Scenario.Threads.Where(t => !Omitted.Threads.Contains(t.Name));

    /// <summary>The backend's name.</summary>
    public string Backend { get; }

    /// <summary>Entity id of each running thread of the last build, by the scenario's thread name.</summary>
    public IReadOnlyDictionary<string, int> ThreadIds => _threadIds;

    private readonly Dictionary<string, int> _threadIds = new(StringComparer.Ordinal);

    /// <summary>
    /// The machine <see cref="Build"/> made last: after an exception escapes a run, its scheduler still holds the
    /// schedule up to the failing step (pv soak saves it as an internal-error finding).
    /// </summary>
    public Machine? Last { get; private set; }

    /// <summary>Machines built so far (schedules started).</summary>
    public long Built { get; private set; }

    /// <summary>A new machine, set up and with every thread queued; the previous one is disposed.</summary>
    public Machine Build()
    {
        Dispose();
        (var m, _last) = _machines.Create(_options);
        Last = m;
        Built++;
        foreach (var (site, n) in Scenario.FailAlloc) m.Memory.InjectFailures(site, n);
        var files = new Dictionary<string, AddressSpace>(StringComparer.Ordinal);
        foreach (var f in Scenario.Files)
        {
            var space = new AddressSpace(f.Name);
            for (int p = 0; p < f.Pages; p++) space.Pages[(ulong)p] = m.Memory.Alloc(f.IsDevice ? FrameKind.DevicePfn : FrameKind.DataPage);
            files[f.Name] = space;
        }
        var mms = new Dictionary<string, MmStruct>(StringComparer.Ordinal);
        foreach (var decl in Scenario.Mms) mms[decl.Name] = SetUpMm(m, decl, files);
        var ctx = new Context(m, mms, files, Scenario.Mmu, [], []);
        var loaded = new HashSet<int>();
        _threadIds.Clear();
        IopfQueue? iopf = null;
        foreach (var t in Threads)
        {
            var mm = t.Mm is null ? null : mms[t.Mm];
            SimThread thread;
            if (t.Kind == ThreadKind.Device)
            {
                // The SMMU is the secondary-MMU backend's ISecondaryMmu, composed on this same machine; the IOPF
                // workqueue's thread is added before the first device.
                _smmuServices ??= _smmu!.ComposeOnto(m);
                iopf ??= new IopfQueue(m);
                var device = SvaDevice.Attach(m, _smmuServices.ServiceProvider.GetRequiredService<ISecondaryMmu>(), iopf, mm!, t.Ats);
                ctx.Devices[device.Thread] = device;
                thread = device.Thread;
            }
            else
            {
                if (mm is not null && loaded.Add(t.Cpu)) m.Cpus[t.Cpu].LoadMm(mm.Id);
                thread = m.AddThread(t.Name, t.Kind, t.Cpu, mm);
            }
            _threadIds[t.Name] = thread.Id;
            ctx.Threads[t.Name] = thread;
            for (int i = 0; i < t.Ops.Count; i++)
            {
                if (Omitted.Ops.Contains((t.Name, i))) continue;
                var op = t.Ops[i];
                for (int k = 0; k < op.Times; k++) thread.Enqueue(Deferred(() => Operation(ctx, thread, op)));
            }
        }
        return m;
    }

    /// <summary>Disposes the last machine's services.</summary>
    public void Dispose()
    {
        _smmuServices?.Dispose();
        _smmuServices = null;
        _last?.Dispose();
        _last = null;
    }

    private sealed record Context(Machine M, Dictionary<string, MmStruct> Mms, Dictionary<string, AddressSpace> Files, MmuKind Mmu,
        Dictionary<SimThread, SvaDevice> Devices, Dictionary<string, SimThread> Threads);

    private static MmStruct SetUpMm(Machine m, MmDecl decl, Dictionary<string, AddressSpace> files)
    {
        var mm = m.CreateMm();
        foreach (var v in decl.Vmas)
            mm.InsertVma(new Vma(mm, v.Start, v.End, v.Flags, v.File is null ? null : files[v.File], v.PgOff));
        foreach (var p in decl.Populate)
            for (ulong a = p.Start; a < p.Start + p.Length; a += PageGeometry.PageSize)
                Populate(m, mm, mm.FindVma(a)!, a, p.ReadOnly);
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

    /// <summary>Resolves an operation when its thread reaches it (a fork child exists only by then); no step of its own.</summary>
    private static IEnumerable<Step> Deferred(Func<IEnumerable<Step>> operation)
    {
        yield return Step.Call(operation());
    }

    private static IEnumerable<Step> Operation(Context ctx, SimThread t, OpDecl op)
    {
        var m = ctx.M;
        MmStruct Mm() => op.Name is { } n ? ctx.Mms[n] : t.Mm ?? throw new InvalidOperationException($"{t.Name} has no mm");
        bool host = ctx.Mmu == MmuKind.HostMappings;
        switch (op.Kind)
        {
            case OpKind.Read or OpKind.Write or OpKind.Exec:
                var access = op.Kind switch { OpKind.Read => AccessKind.Read, OpKind.Write => AccessKind.Write, _ => AccessKind.Exec };
                return host ? HostMmu.Access(m, t, op.Address, access) : Fault.UserAccess(m, t, op.Address, access);
            case OpKind.DmaRead: return ctx.Devices[t].Access(op.Address, AccessKind.Read);
            case OpKind.DmaWrite: return ctx.Devices[t].Access(op.Address, AccessKind.Write);
            case OpKind.Unbind: return ctx.Devices[t].Unbind();
            case OpKind.WaitFor: return WaitFor(ctx.Threads[op.Name!]);
            case OpKind.Vfree when host: return HostMmu.Vfree(m, t, op.Address, (int)(op.Length / PageGeometry.PageSize));
        }
        var work = Syscall(ctx, t, op, Mm);
        // Under host mappings a user thread's syscall returns to user mode through UML's sync point.
        return host && t.Kind == ThreadKind.User && op.Kind is not (OpKind.IrqOff or OpKind.IrqOn or OpKind.RcuReadLock or OpKind.RcuReadUnlock)
            ? ReturnToUser(m, t, work) : work;
    }

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
            case OpKind.MadviseGuard: return Madvise.GuardInstall(m, t, t.Mm!, op.Address, op.Length, new WalkResult());
            case OpKind.MadviseGuardRemove: return Madvise.GuardRemove(m, t, t.Mm!, op.Address, op.Length, new WalkResult());
            case OpKind.Fork: return Fork(ctx, t, op.Name!);
            case OpKind.Exit: return Munmap.ExitMmap(m, t, Mm());
            case OpKind.Gup: return Gup.GetUserPages(m, t, t.Mm!, op.Address, (int)op.Length, op.Write, new GupResult());
            case OpKind.GupFast: return Gup.GetUserPagesFast(m, t, t.Mm!, op.Address, op.Write, new GupResult());
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

// Test helpers: UML machines built the way a user gets them (the repo's plugins.json, the real loader,
// BackendHost.CreateMachine), and the process programs the schedule tests run: syscalls that return to user mode
// through the sync point, and accesses that go through the host mappings.
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine;
using Pv.Engine.Mm;
using Pv.Engine.Sched;
using Pv.Engine.Uml;
using Pv.Hosting;
using Pv.Hosting.Composition;

namespace Pv.Plugins.Uml.Tests;

internal static class UmlMachines
{
    public const ulong Page = PageGeometry.PageSize;

    /// <summary>The repository root: the first directory above the test binaries holding Pv.sln.</summary>
    public static string RepoRoot { get; } = FindRepoRoot();

    private static readonly Lazy<PluginCatalog> Catalog = new(() => PluginCatalog.Load(Path.Combine(RepoRoot!, "plugins.json")));

    /// <summary>A machine running <paramref name="backend"/> from the repo's plugins.json.</summary>
    public static PvMachine Create(string backend, int cpus = 1) =>
        Catalog.Value.Backend(backend).Host.CreateMachine(new MachineOptions { Cpus = cpus, TraceDepth = 16, MaxSteps = 50_000 });

    /// <summary>A syscall: the kernel work, then the return to user mode (UML's sync point, O6 checked).</summary>
    public static IEnumerable<Step> Syscall(Machine m, SimThread t, IEnumerable<Step> kernelWork)
    {
        yield return Step.Call(kernelWork);
        yield return Step.Call(HostMmu.ReturnToUser(m, t));
    }

    /// <summary>
    /// One process's program, drawn from <paramref name="rng"/>: mmap a small anonymous region, then a mix of user
    /// accesses (faults), mprotect, munmap + mmap again, and a syscall that vmallocs a page in this process's own
    /// kernel slot, writes it and vfrees it.
    /// </summary>
    public static IEnumerable<Step> Process(Machine m, SimThread t, ulong va, int pages, ulong vmallocSlot, Random rng, int ops)
    {
        ulong len = (ulong)pages * Page;
        yield return Step.Call(Syscall(m, t, Mmap.Run(m, t, t.Mm!, va, len, VmaFlags.Read | VmaFlags.Write)));
        bool mapped = true;
        for (int i = 0; i < ops; i++)
        {
            ulong a = va + (ulong)rng.Next(pages) * Page;
            switch (rng.Next(6))
            {
                case 0 or 1:
                    if (mapped) yield return Step.Call(HostMmu.Access(m, t, a, rng.Next(2) == 0 ? AccessKind.Read : AccessKind.Write));
                    break;
                case 2:
                    if (mapped)
                        yield return Step.Call(Syscall(m, t, Mmap.Mprotect(m, t, t.Mm!, va, len, rng.Next(2) == 0 ? VmaFlags.Read : VmaFlags.Read | VmaFlags.Write)));
                    break;
                case 3:
                    yield return Step.Call(Syscall(m, t, Munmap.Run(m, t, t.Mm!, va, len)));
                    mapped = false;
                    break;
                case 4:
                    if (!mapped) yield return Step.Call(Syscall(m, t, Mmap.Run(m, t, t.Mm!, va, len, VmaFlags.Read | VmaFlags.Write)));
                    mapped = true;
                    break;
                default:
                    yield return Step.Call(Syscall(m, t, KernelWork(m, t, vmallocSlot)));
                    break;
            }
        }
    }

    /// <summary>Two processes on one CPU (UML is uniprocessor; the scheduler's interleaving is preemption).</summary>
    public static Machine TwoProcesses(string backend, int seed)
    {
        var m = Create(backend).Machine;
        var rng = new Random(seed);
        for (int p = 0; p < 2; p++)
        {
            var mm = m.CreateMm();
            var t = m.AddThread($"proc{p}", ThreadKind.User, 0, mm);
            t.Enqueue(Process(m, t, 0x4000_0000 + (ulong)p * 0x20_0000, 3, KernelMm.VmallocStart + (ulong)p * 2 * Page, rng, 6));
        }
        return m;
    }

    private static IEnumerable<Step> KernelWork(Machine m, SimThread t, ulong slot)
    {
        yield return Step.Call(KernelMm.Vmalloc(m, t, slot, 1));
        yield return Step.Call(HostMmu.Access(m, t, slot, AccessKind.Write));
        yield return Step.Call(HostMmu.Vfree(m, t, slot, 1));
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Pv.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Pv.sln above {AppContext.BaseDirectory}");
    }
}

// `--ab-x86-xen [--seed N] [--rounds N] [--pages N]`: the same seeded workloads on x86-native and xen-pv
// (plugins.json, real loader) at 2, 8, 32 and 64 CPUs. One user thread per CPU, all in one mm, each on its
// own 2 MiB region: munmap-heavy (mmap, write every page, munmap: a TLB flush of every CPU and a PTE table
// freed per round) and mprotect-heavy (write-protect, unprotect, write again: a flush per write-protect and
// an upgrade fault per page). Reported per run: the oracle's verdict, IPIs, interrupts taken, hypercalls,
// multicall batches, page tables freed at once / after RCU, and simulated system time (total and the
// busiest CPU). The comparison to expect is the Xen L0-assisted flush result: at 32 vCPUs a hypercall
// flush costs the guest far less system time than an IPI shootdown, because no vCPU is interrupted.
using Pv.Abstractions.Mm;
using Pv.Engine;
using Pv.Engine.Mm;
using Pv.Engine.Sched;
using Pv.Hosting;
using Pv.Hosting.Composition;

namespace Pv.Benchmarks;

internal static class X86XenAb
{
    private const ulong Base = 0x4000_0000;
    private const ulong Region = 0x20_0000;
    private const ulong Page = 4096;

    public static int Run(string[] args)
    {
        ulong seed = 1;
        int rounds = 4, pages = 4;
        for (int i = 0; i + 1 < args.Length; i += 2)
        {
            switch (args[i])
            {
                case "--seed": seed = ulong.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--rounds": rounds = int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture); break;
                case "--pages": pages = int.Parse(args[i + 1], System.Globalization.CultureInfo.InvariantCulture); break;
                default: Console.Error.WriteLine($"--ab-x86-xen: unknown option {args[i]}; expected --seed, --rounds or --pages"); return 2;
            }
        }
        string config = Path.Combine(RepoRoot(), "plugins.json");
        using var catalog = PluginCatalog.Load(config);
        var backends = new[] { catalog.Backend("x86-native"), catalog.Backend("xen-pv") };
        Console.WriteLine($"seed {seed}, {rounds} rounds of {pages} pages per thread, one thread per CPU in one mm; times in simulated µs");
        Console.WriteLine("| workload | CPUs | backend | verdict | IPIs | irqs taken | hypercalls | multicalls | tables now | tables RCU | sys time | busiest CPU | x86/xen sys |");
        Console.WriteLine("|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var workload in new[] { "munmap-heavy", "mprotect-heavy" })
            foreach (int cpus in new[] { 2, 8, 32, 64 })
            {
                long x86Time = 0;
                foreach (var backend in backends)
                {
                    var m = backend.Host.CreateMachine(new MachineOptions { Cpus = cpus, MaxSteps = 10_000_000 }).Machine;
                    var mm = m.CreateMm();
                    foreach (var cpu in m.Cpus.All) cpu.LoadMm(mm.Id);
                    for (int c = 0; c < cpus; c++)
                    {
                        var t = m.AddThread($"t{c}", ThreadKind.User, c, mm);
                        t.Enqueue(workload == "munmap-heavy" ? MunmapHeavy(m, t, mm, Base + (ulong)c * Region, pages, rounds) : MprotectHeavy(m, t, mm, Base + (ulong)c * Region, pages, rounds));
                    }
                    var r = m.Run(new RandomPolicy(seed));
                    string verdict = r.Outcome == RunOutcome.Completed ? "clean" : r.Report?.Violation.Id.ToString() ?? r.Outcome.ToString();
                    long busiest = Enumerable.Range(0, cpus).Max(c => m.Cost.Charged(c));
                    string ratio = backend.Name == "x86-native" ? "" : $"{(double)x86Time / m.Cost.Total:0.0}×";
                    if (backend.Name == "x86-native") x86Time = m.Cost.Total;
                    var k = m.Metrics;
                    Console.WriteLine($"| {workload} | {cpus} | {backend.Name} | {verdict} | {k.IpiSent.Value} | {k.InterruptsTaken.Value} | {k.Hypercalls.Value} | {k.Multicalls.Value} | " +
                        $"{k.TablesFreedNow.Value} | {k.TablesFreedRcu.Value} | {m.Cost.Total / 1000} | {busiest / 1000} | {ratio} |");
                }
            }
        return 0;
    }

    /// <summary>mmap, write every page (a fault each), munmap; <paramref name="rounds"/> times.</summary>
    internal static IEnumerable<Step> MunmapHeavy(Machine m, SimThread t, MmStruct mm, ulong start, int pages, int rounds)
    {
        for (int r = 0; r < rounds; r++)
        {
            yield return Step.Call(Mmap.Run(m, t, mm, start, (ulong)pages * Page, VmaFlags.Read | VmaFlags.Write));
            for (int p = 0; p < pages; p++) yield return Step.Call(Fault.UserAccess(m, t, start + (ulong)p * Page, AccessKind.Write));
            yield return Step.Call(Munmap.Run(m, t, mm, start, (ulong)pages * Page));
        }
    }

    /// <summary>Map and write once; then write-protect, unprotect and write every page again, <paramref name="rounds"/> times.</summary>
    internal static IEnumerable<Step> MprotectHeavy(Machine m, SimThread t, MmStruct mm, ulong start, int pages, int rounds)
    {
        yield return Step.Call(Mmap.Run(m, t, mm, start, (ulong)pages * Page, VmaFlags.Read | VmaFlags.Write));
        for (int p = 0; p < pages; p++) yield return Step.Call(Fault.UserAccess(m, t, start + (ulong)p * Page, AccessKind.Write));
        for (int r = 0; r < rounds; r++)
        {
            yield return Step.Call(Mmap.Mprotect(m, t, mm, start, (ulong)pages * Page, VmaFlags.Read));
            yield return Step.Call(Mmap.Mprotect(m, t, mm, start, (ulong)pages * Page, VmaFlags.Read | VmaFlags.Write));
            for (int p = 0; p < pages; p++) yield return Step.Call(Fault.UserAccess(m, t, start + (ulong)p * Page, AccessKind.Write));
        }
    }

    internal static string RepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Pv.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Pv.sln above {AppContext.BaseDirectory}");
    }
}

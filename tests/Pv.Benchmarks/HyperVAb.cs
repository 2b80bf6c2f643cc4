// `--ab-hyperv [--seed N] [--rounds N] [--pages N]`: X86XenAb's seeded workloads (user threads in one mm, each on its
// own CPU and 2 MiB region; munmap-heavy and mprotect-heavy) on x86-native, xen-pv, hyperv and hyperv-4.14
// (plugins.json, real loader) with 2, 8, 64 and 72 threads. Each machine has one CPU more than threads, which never
// runs the mm (a guest's idle or housekeeping vCPU): mm_cpumask is then not every present vCPU, so Hyper-V's flush
// builds its processor mask, or past VP 63 its sparse VP set, as it does in a real guest. Reported per run: the oracle's verdict, IPIs, interrupts taken,
// hypercalls, Hyper-V's List/Space calls (Ex included) with their GVA entries and sparse-set banks, page tables freed
// at once / after RCU, and simulated system time (total and the busiest CPU), with x86-native's time over each
// backend's. What to expect: like Xen's flush, Hyper-V's interrupts no vCPU, so it costs the guest far less system
// time than the IPI shootdown as CPUs grow; hyperv-4.14 pays the sparse set's banks on every flush (before
// 0e4c88f37693) where today's guest sends the plain call.
using Pv.Engine;
using Pv.Engine.Mm;
using Pv.Engine.Sched;
using Pv.Hosting;

namespace Pv.Benchmarks;

internal static class HyperVAb
{
    private const ulong Base = 0x4000_0000;
    private const ulong Region = 0x20_0000;

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
                default: Console.Error.WriteLine($"--ab-hyperv: unknown option {args[i]}; expected --seed, --rounds or --pages"); return 2;
            }
        }
        using var catalog = PluginCatalog.Load(Path.Combine(X86XenAb.RepoRoot(), "plugins.json"));
        var backends = new[] { "x86-native", "xen-pv", "hyperv", "hyperv-4.14" }.Select(catalog.Backend).ToList();
        Console.WriteLine($"seed {seed}, {rounds} rounds of {pages} pages per thread, one thread per CPU in one mm, one more CPU idle outside it; times in simulated µs");
        Console.WriteLine("| workload | threads | backend | verdict | IPIs | irqs taken | hypercalls | HV list | HV space | of them Ex | GVA entries | VP set banks | tables now | tables RCU | sys time | busiest CPU | x86/this sys |");
        Console.WriteLine("|---|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var workload in new[] { "munmap-heavy", "mprotect-heavy" })
            foreach (int threads in new[] { 2, 8, 64, 72 })
            {
                int cpus = threads + 1;
                long x86Time = 0;
                foreach (var backend in backends)
                {
                    var m = backend.Host.CreateMachine(new MachineOptions { Cpus = cpus, MaxSteps = 10_000_000 }).Machine;
                    var mm = m.CreateMm();
                    for (int c = 0; c < threads; c++)
                    {
                        m.Cpus[c].LoadMm(mm.Id);
                        var t = m.AddThread($"t{c}", ThreadKind.User, c, mm);
                        ulong start = Base + (ulong)c * Region;
                        t.Enqueue(workload == "munmap-heavy" ? X86XenAb.MunmapHeavy(m, t, mm, start, pages, rounds) : X86XenAb.MprotectHeavy(m, t, mm, start, pages, rounds));
                    }
                    var r = m.Run(new RandomPolicy(seed));
                    string verdict = r.Outcome == RunOutcome.Completed ? "clean" : r.Report?.Violation.Id.ToString() ?? r.Outcome.ToString();
                    long busiest = Enumerable.Range(0, cpus).Max(c => m.Cost.Charged(c));
                    if (backend.Name == "x86-native") x86Time = m.Cost.Total;
                    string ratio = backend.Name == "x86-native" ? "" : $"{(double)x86Time / m.Cost.Total:0.0}×";
                    var k = m.Metrics;
                    long C(string name) => k.Counter(name).Value;
                    long listEx = C("hv.flush_virtual_address_list_ex"), spaceEx = C("hv.flush_virtual_address_space_ex");
                    Console.WriteLine($"| {workload} | {threads} | {backend.Name} | {verdict} | {k.IpiSent.Value} | {k.InterruptsTaken.Value} | {k.Hypercalls.Value} | " +
                        $"{C("hv.flush_virtual_address_list") + listEx} | {C("hv.flush_virtual_address_space") + spaceEx} | {listEx + spaceEx} | {C("hv.gva_range_entries")} | {C("hv.vp_set_banks")} | " +
                        $"{k.TablesFreedNow.Value} | {k.TablesFreedRcu.Value} | {m.Cost.Total / 1000} | {busiest / 1000} | {ratio} |");
                }
            }
        return 0;
    }
}

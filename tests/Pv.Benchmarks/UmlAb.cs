// `--ab-uml`: the same UML workloads on the 2024 deferred-sync backend and the pre-2024 eager one, loaded from
// the repo's plugins.json through the real loader. Verdicts first (the oracle's, per run), then host syscalls,
// bytes synced, stub round trips and simulated time, with the 2024/pre-2024 ratio.
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine;
using Pv.Engine.Mm;
using Pv.Engine.Sched;
using Pv.Engine.Uml;
using Pv.Hosting;
using Pv.Hosting.Composition;

namespace Pv.Benchmarks;

public static class UmlAb
{
    private const ulong Page = PageGeometry.PageSize, Anon = 0x4000_0000, File = 0x5000_0000;
    private const int Pages = 64;

    private static readonly (string Name, Func<Machine, SimThread, IEnumerable<Step>> Program)[] Workloads =
    [
        ("fault-heavy", FaultHeavy),
        ("mprotect", MprotectHeavy),
        ("vmalloc", VmallocHeavy),
    ];

    public static int Run(string[] args)
    {
        string config = args.Length > 0 ? args[0] : Path.Combine(FindRepoRoot(), "plugins.json");
        using var catalog = PluginCatalog.Load(config);
        Console.WriteLine($"{"workload",-12} {"backend",-13} {"verdict",-8} {"syscalls",9} {"bytes",12} {"stub rt",8} {"sim ns",10}");
        foreach (var (name, program) in Workloads)
        {
            var deferred = RunOne(catalog, "uml", program);
            var eager = RunOne(catalog, "uml-pre-2024", program);
            foreach (var (backend, r) in new[] { ("uml-pre-2024", eager), ("uml", deferred) })
                Console.WriteLine($"{name,-12} {backend,-13} {r.Verdict,-8} {r.Syscalls,9} {r.Bytes,12} {r.RoundTrips,8} {r.Time,10}");
            Console.WriteLine($"{name,-12} {"2024/pre",-13} {"",-8} {Ratio(deferred.Syscalls, eager.Syscalls),9} {Ratio(deferred.Bytes, eager.Bytes),12} {Ratio(deferred.RoundTrips, eager.RoundTrips),8} {Ratio(deferred.Time, eager.Time),10}");
        }
        return 0;
    }

    private sealed record Result(string Verdict, long Syscalls, long Bytes, long RoundTrips, long Time);

    private static Result RunOne(PluginCatalog catalog, string backend, Func<Machine, SimThread, IEnumerable<Step>> program)
    {
        using var pv = catalog.Backend(backend).Host.CreateMachine(new MachineOptions { Cpus = 1 });
        var m = pv.Machine;
        var t = m.AddThread("proc", ThreadKind.User, 0, m.CreateMm());
        t.Enqueue(program(m, t));
        var r = m.Run(new SequentialPolicy());
        string verdict = r.Report is { } v ? v.Violation.Id.ToString() : r.Outcome.ToString();
        return new Result(verdict, m.Metrics.Counter("host.syscall").Value, m.Metrics.Counter("host.bytes").Value,
            m.Metrics.Counter("host.stub_roundtrip").Value, m.Cost.Total);
    }

    private static string Ratio(long a, long b) => b == 0 ? "-" : ((double)a / b).ToString("0.00", System.Globalization.CultureInfo.InvariantCulture);

    private static IEnumerable<Step> Syscall(Machine m, SimThread t, IEnumerable<Step> work)
    {
        yield return Step.Call(work);
        yield return Step.Call(HostMmu.ReturnToUser(m, t));
    }

    private static IEnumerable<Step> Touch(Machine m, SimThread t, ulong start, AccessKind kind)
    {
        for (ulong a = start; a < start + Pages * Page; a += Page) yield return Step.Call(HostMmu.Access(m, t, a, kind));
    }

    /// <summary>Read then write every page of an anonymous region (dirty tracking) and of a private file mapping (COW), then unmap.</summary>
    private static IEnumerable<Step> FaultHeavy(Machine m, SimThread t)
    {
        var mm = t.Mm!;
        var file = new AddressSpace("data");
        yield return Step.Call(Syscall(m, t, Mmap.Run(m, t, mm, Anon, Pages * Page, VmaFlags.Read | VmaFlags.Write)));
        yield return Step.Call(Syscall(m, t, Mmap.Run(m, t, mm, File, Pages * Page, VmaFlags.Read | VmaFlags.Write, file)));
        foreach (ulong region in new[] { Anon, File })
        {
            yield return Step.Call(Touch(m, t, region, AccessKind.Read));
            yield return Step.Call(Touch(m, t, region, AccessKind.Write));
        }
        yield return Step.Call(Syscall(m, t, Munmap.Run(m, t, mm, Anon, Pages * Page)));
        yield return Step.Call(Syscall(m, t, Munmap.Run(m, t, mm, File, Pages * Page)));
    }

    /// <summary>Write every page, mprotect read-only and back, write every page again (write-protect faults), unmap.</summary>
    private static IEnumerable<Step> MprotectHeavy(Machine m, SimThread t)
    {
        var mm = t.Mm!;
        yield return Step.Call(Syscall(m, t, Mmap.Run(m, t, mm, Anon, Pages * Page, VmaFlags.Read | VmaFlags.Write)));
        yield return Step.Call(Touch(m, t, Anon, AccessKind.Write));
        yield return Step.Call(Syscall(m, t, Mmap.Mprotect(m, t, mm, Anon, Pages * Page, VmaFlags.Read)));
        yield return Step.Call(Touch(m, t, Anon, AccessKind.Read));
        yield return Step.Call(Syscall(m, t, Mmap.Mprotect(m, t, mm, Anon, Pages * Page, VmaFlags.Read | VmaFlags.Write)));
        yield return Step.Call(Touch(m, t, Anon, AccessKind.Write));
        yield return Step.Call(Syscall(m, t, Munmap.Run(m, t, mm, Anon, Pages * Page)));
    }

    /// <summary>16 syscalls that each vmalloc 4 pages, write them from the kernel and vfree them.</summary>
    private static IEnumerable<Step> VmallocHeavy(Machine m, SimThread t)
    {
        for (int i = 0; i < 16; i++) yield return Step.Call(Syscall(m, t, KernelBuffer(m, t, KernelMm.VmallocStart + (ulong)i * 8 * Page)));
    }

    private static IEnumerable<Step> KernelBuffer(Machine m, SimThread t, ulong va)
    {
        yield return Step.Call(KernelMm.Vmalloc(m, t, va, 4));
        for (ulong a = va; a < va + 4 * Page; a += Page) yield return Step.Call(HostMmu.Access(m, t, a, AccessKind.Write));
        yield return Step.Call(HostMmu.Vfree(m, t, va, 4));
    }

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (System.IO.File.Exists(Path.Combine(dir.FullName, "Pv.sln"))) return dir.FullName;
        throw new InvalidOperationException($"no Pv.sln above {AppContext.BaseDirectory}; pass the plugins.json path");
    }
}

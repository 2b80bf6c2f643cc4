// Target 5: <= 64 bytes of managed memory per mapped 4 KiB page beyond its own 8-byte PTE, and a machine with
// 256 CPUs and 1,000,000 mapped pages fits in 2 GiB. Console mode, not a BenchmarkDotNet benchmark:
//   dotnet run -c Release --project tests/Pv.Benchmarks -- --memory [--pages N] [--cpus N]
// Builds MachineOptions { Cpus = 256 }, one mm, maps N contiguous 4 KiB pages (Memory.Alloc a data frame +
// PageTables.Populate each), and measures the managed heap with GC.GetTotalMemory(true) (full blocking,
// LOH-compacting collections) before the machine, after the empty machine, and after mapping.
// Bytes per page = (heap after mapping - heap of the empty machine) / N - 8. Exit code 1 if a target fails.
using System.Diagnostics;
using System.Runtime;
using Pv.Abstractions.Memory;
using Pv.Engine;

namespace Pv.Benchmarks;

internal static class MemoryFootprint
{
    private const ulong Base = 0x7f00_0000_0000UL;
    private const long TwoGiB = 2L << 30;

    public static int Run(string[] args)
    {
        int pages = 1_000_000, cpus = 256;
        for (int i = 0; i + 1 < args.Length; i++)
        {
            if (args[i] == "--pages") pages = int.Parse(args[i + 1]);
            if (args[i] == "--cpus") cpus = int.Parse(args[i + 1]);
        }

        long heap0 = Heap();
        var sw = Stopwatch.StartNew();
        var m = new Machine(new MachineOptions { Cpus = cpus });
        var mm = m.CreateMm();
        long heapMachine = Heap();
        for (int i = 0; i < pages; i++) BenchMachines.MapPage(m, mm, Base + (ulong)i * PageGeometry.PageSize);
        sw.Stop();
        long heapMapped = Heap();

        // Sanity: the last page is mapped and walks to its frame.
        BenchMachines.Check(m.PageTables.TryWalk(mm.Id, Base + (ulong)(pages - 1) * PageGeometry.PageSize, out _, out var leaf) && leaf.IsPresent, "last page mapped");

        long machineBytes = heapMachine - heap0;
        long mappedBytes = heapMapped - heapMachine;
        double perPageTotal = (double)mappedBytes / pages;
        double perPageBeyondPte = perPageTotal - 8;
        long total = heapMapped - heap0;
        var info = GC.GetGCMemoryInfo(GCKind.Any);
        long peakWorkingSet = Process.GetCurrentProcess().PeakWorkingSet64;

        Console.WriteLine($"machine: {cpus} CPUs, 1 mm, {pages:N0} mapped 4 KiB pages; frames used {m.Memory.FramesUsed:N0}; built in {sw.ElapsedMilliseconds} ms");
        Console.WriteLine($"managed heap (GC.GetTotalMemory(true)): before {Mb(heap0)}, empty machine +{Mb(machineBytes)}, after mapping +{Mb(mappedBytes)}");
        Console.WriteLine($"bytes per mapped page: {perPageTotal:F2} total, {perPageBeyondPte:F2} beyond the 8-byte PTE (target <= 64)");
        Console.WriteLine($"machine total: {Mb(total)} managed (target < 2048 MB); GC heap size {Mb(info.HeapSizeBytes)}, committed {Mb(info.TotalCommittedBytes)}; process peak working set {Mb(peakWorkingSet)}");
        bool perPageOk = perPageBeyondPte <= 64;
        bool fitsOk = total < TwoGiB && peakWorkingSet < TwoGiB;
        Console.WriteLine($"per-page target: {(perPageOk ? "PASS" : "FAIL")}; 2 GiB target: {(fitsOk ? "PASS" : "FAIL")}");
        GC.KeepAlive(m);
        return perPageOk && fitsOk ? 0 : 1;
    }

    private static long Heap()
    {
        GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private static string Mb(long bytes) => $"{bytes / (1024.0 * 1024.0):F1} MB";
}

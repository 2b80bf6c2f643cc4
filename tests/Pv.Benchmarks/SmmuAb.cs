// `--ab-smmu [--seeds N] [--rounds N] [--dma N]`: A/B of SMMUv3 SVA with BTM against without BTM (v6.6+), on
// the same workload and seeds. One process, 256 pages of anonymous memory shared with two devices (one with
// ATS); the devices DMA at seeded random pages (faulting pages in through IOPF), while a CPU thread churns 16-page
// chunks: mprotect read-only, mprotect read/write, munmap, mmap again. Threads interleave under a seeded random
// schedule. The table gives the oracle's verdicts first, then the SMMU commands and the simulated time, with the
// no-BTM backend as the baseline. The CPU side is the arm64 test double; the SMMU is the real plugin from
// plugins.json (build it first: dotnet build tests/Pv.Plugins.Smmu.Tests).
using Pv.Abstractions.Mm;
using Pv.Abstractions.Memory;
using Pv.Engine;
using Pv.Engine.Mm;
using Pv.Engine.Sched;
using Pv.Plugins.Smmu.Tests;

namespace Pv.Benchmarks;

internal static class SmmuAb
{
    private const ulong Pages = 256, Chunk = 16, Page = PageGeometry.PageSize;
    private static readonly string[] Counters = ["smmu.cmd.tlbi_nh_va", "smmu.cmd.tlbi_nh_asid", "smmu.cmd.atc_inv", "smmu.cmd.sync", "iommu.iopf", "tlb.flush.broadcast"];

    public static int Run(string[] args)
    {
        int seeds = Arg(args, "--seeds", 8), rounds = Arg(args, "--rounds", 24), dma = Arg(args, "--dma", 400);
        Console.WriteLine($"SVA DMA with munmap/mprotect churn: {seeds} seeds x ({rounds} CPU rounds of a {Chunk}-page chunk, 2 devices x {dma} DMA accesses)");
        var rows = new List<(string Backend, string Verdict, long[] Counts, long Time)>();
        foreach (var backend in new[] { "arm64-smmu-v6.6", "arm64-smmu-btm" })
        {
            var counts = new long[Counters.Length];
            long time = 0;
            var verdicts = new SortedDictionary<string, int>();
            for (int seed = 1; seed <= seeds; seed++)
            {
                using var r = new SmmuRig(backend, vmaPages: Pages);
                var result = RunOnce(r, (ulong)seed, rounds, dma);
                string v = result.Report?.Violation.Id.ToString() ?? result.Outcome.ToString().ToLowerInvariant();
                verdicts[v] = verdicts.GetValueOrDefault(v) + 1;
                for (int i = 0; i < Counters.Length; i++) counts[i] += r.Counter(Counters[i]);
                time += r.M.Cost.Total;
            }
            rows.Add((backend, string.Join(", ", verdicts.Select(kv => $"{kv.Key} x{kv.Value}")), counts, time));
        }
        Print(rows);
        return rows.All(row => row.Verdict.StartsWith("completed", StringComparison.Ordinal) && !row.Verdict.Contains(',')) ? 0 : 1;
    }

    private static RunResult RunOnce(SmmuRig r, ulong seed, int rounds, int dma)
    {
        var m = r.M;
        var rng = new SplitMix64(seed);
        foreach (var ats in new[] { false, true })
        {
            var dev = r.Device(ats);
            for (int i = 0; i < dma; i++)
                dev.Enqueue(dev.Access(SmmuRig.X + (ulong)rng.NextInt((int)Pages) * Page, rng.NextInt(3) == 0 ? AccessKind.Write : AccessKind.Read));
        }
        var chunks = Enumerable.Range(0, rounds).Select(_ => SmmuRig.X + (ulong)rng.NextInt((int)(Pages / Chunk)) * Chunk * Page).ToArray();
        r.Cpu(0, t => Churn(m, t, r.Mm, chunks));
        return m.Run(new RandomPolicy(seed));
    }

    /// <summary>The CPU's churn: per chunk, mprotect(PROT_READ), mprotect(PROT_READ|PROT_WRITE), munmap, mmap.</summary>
    private static IEnumerable<Step> Churn(Machine m, SimThread t, MmStruct mm, ulong[] chunks)
    {
        const VmaFlags rw = VmaFlags.Read | VmaFlags.Write;
        foreach (ulong start in chunks)
        {
            yield return Step.Call(Mmap.Mprotect(m, t, mm, start, Chunk * Page, VmaFlags.Read));
            yield return Step.Call(Mmap.Mprotect(m, t, mm, start, Chunk * Page, rw));
            yield return Step.Call(Munmap.Run(m, t, mm, start, Chunk * Page));
            yield return Step.Call(Mmap.Run(m, t, mm, start, Chunk * Page, rw));
        }
    }

    private static void Print(List<(string Backend, string Verdict, long[] Counts, long Time)> rows)
    {
        var baseline = rows[0];
        string[] head = ["backend", "verdicts", "tlbi_nh_va", "tlbi_nh_asid", "atc_inv", "cmd_sync", "iopf", "cpu tlbi", "sim time (us)", "time ratio"];
        var table = rows.Select(row => new[] { row.Backend, row.Verdict }
            .Concat(row.Counts.Select(c => c.ToString()))
            .Append((row.Time / 1000.0).ToString("F1"))
            .Append((row.Time / (double)baseline.Time).ToString("F3"))
            .ToArray()).ToList();
        int[] widths = head.Select((h, i) => Math.Max(h.Length, table.Max(row => row[i].Length))).ToArray();
        string Line(string[] cells) => "| " + string.Join(" | ", cells.Select((c, i) => c.PadRight(widths[i]))) + " |";
        Console.WriteLine(Line(head));
        Console.WriteLine("|" + string.Join("|", widths.Select(w => new string('-', w + 2))) + "|");
        foreach (var row in table) Console.WriteLine(Line(row));
    }

    private static int Arg(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out int v) && v > 0 ? v : fallback;
    }
}

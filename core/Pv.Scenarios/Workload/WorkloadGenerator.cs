// The workload form: a seeded generator of operation mixes. From the workload's parameters (mix, threads,
// operations per thread, pages per region, mms) and a seed it writes the threads a litmus file would hold:
// each thread owns a 2 MiB-aligned region (so zaps free whole page tables) in one of the mms, round robin,
// and mixes operations on its own region with accesses to its neighbours'. With `preempt N` a host thread
// preempts and resumes the vCPUs in turn, N times, each for `slice K` steps of the others (a KVM guest's steal time). Same workload and seed, same
// scenario; all randomness is SplitMix64.
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine.Sched;
using Pv.Scenarios.Litmus;
using Pv.Engine.Programs;

namespace Pv.Scenarios.Workload;

/// <summary>Expands a workload scenario into threads for one seed.</summary>
public static class WorkloadGenerator
{
    /// <summary>Where thread 0's region starts.</summary>
    public const ulong RegionBase = 0x1000_0000;

    /// <summary>Distance between regions: 16 MiB, so each region has PTE tables of its own.</summary>
    public const ulong RegionStride = 0x100_0000;

    /// <summary>
    /// The scenario with its threads generated from <paramref name="seed"/>; a litmus scenario is returned unchanged.
    /// </summary>
    public static Scenario Expand(Scenario scenario, ulong seed)
    {
        if (scenario.Workload is not { } w) return scenario;
        var rng = new SplitMix64(seed ^ 0x5EED_0F_300D);
        int cpus = scenario.Options.Cpus;
        int threads = w.Threads > 0 ? w.Threads : cpus;
        ulong pageBytes = PageGeometry.PageSize;
        ulong regionBytes = (ulong)w.Pages * pageBytes;
        var at = w.At;
        ulong Region(int t) => RegionBase + (ulong)t * RegionStride;
        string MmOf(int t) => $"mm{t % w.Mms}";

        var mms = Enumerable.Range(0, w.Mms).Select(i =>
        {
            var owned = Enumerable.Range(0, threads).Where(t => t % w.Mms == i).ToList();
            var vmas = owned.Select(t => new VmaDecl(Region(t), regionBytes, VmaFlags.Read | VmaFlags.Write, null, 0, at)).ToList();
            var populate = w.Mix == WorkloadMix.FaultHeavy ? [] : owned.Select(t => new PopulateDecl(Region(t), regionBytes, at)).ToList();
            return new MmDecl($"mm{i}", vmas, populate, at);
        }).ToList();

        var decls = new List<ThreadDecl>();
        for (int t = 0; t < threads; t++)
        {
            var neighbours = Enumerable.Range(0, threads).Where(o => o % w.Mms == t % w.Mms).ToList();
            var ops = new List<OpDecl>();
            int forks = 0;
            OpDecl Op(OpKind kind, ulong address = 0, ulong length = 0, VmaFlags flags = 0, string? name = null, bool write = false) =>
                new(kind, address, length, 0, flags, name, write, [], 0, 1, at);
            ulong Page(int region) => Region(region) + (ulong)rng.NextInt(w.Pages) * pageBytes;
            ulong AnyPage() => Page(neighbours[rng.NextInt(neighbours.Count)]);
            (ulong Start, ulong Length) Span()
            {
                int first = rng.NextInt(w.Pages);
                int count = 1 + rng.NextInt(Math.Min(8, w.Pages - first));
                return (Region(t) + (ulong)first * pageBytes, (ulong)count * pageBytes);
            }
            const VmaFlags Rw = VmaFlags.Read | VmaFlags.Write;

            for (int i = 0; i < w.Ops; i++)
            {
                int roll = rng.NextInt(100);
                switch (w.Mix)
                {
                    case WorkloadMix.FaultHeavy when roll < 70:
                        ops.Add(Op(roll < 35 ? OpKind.Read : OpKind.Write, AnyPage()));
                        break;
                    case WorkloadMix.FaultHeavy when roll < 85:
                        var (ds, dl) = Span();
                        ops.Add(Op(OpKind.MadviseDontneed, ds, dl));
                        break;
                    case WorkloadMix.FaultHeavy:
                        ops.Add(Op(OpKind.GupFast, AnyPage(), 1));
                        break;
                    case WorkloadMix.MunmapHeavy when roll < 45:
                        var (us, ul) = Span();
                        ops.Add(Op(OpKind.Munmap, us, ul));
                        ops.Add(Op(OpKind.Mmap, us, ul, Rw));
                        break;
                    case WorkloadMix.MunmapHeavy when roll < 90:
                        ops.Add(Op(roll < 65 ? OpKind.Read : OpKind.Write, AnyPage()));
                        break;
                    case WorkloadMix.MunmapHeavy:
                        ops.Add(Op(OpKind.GupFast, AnyPage(), 1));
                        break;
                    case WorkloadMix.MprotectHeavy when roll < 50:
                        var (ps, pl) = Span();
                        ops.Add(Op(OpKind.Mprotect, ps, pl, VmaFlags.Read));
                        ops.Add(Op(OpKind.Mprotect, ps, pl, Rw));
                        break;
                    case WorkloadMix.MprotectHeavy:
                        ops.Add(Op(roll < 60 ? OpKind.Read : OpKind.Write, AnyPage()));
                        break;
                    case WorkloadMix.ForkExit when roll < 20:
                        string child = $"child{t}_{forks++}";
                        ops.Add(Op(OpKind.Fork, name: child));
                        ops.Add(Op(OpKind.Write, Page(t)));
                        ops.Add(Op(OpKind.Exit, name: child));
                        break;
                    case WorkloadMix.ForkExit:
                        ops.Add(Op(roll < 60 ? OpKind.Write : OpKind.Read, AnyPage()));
                        break;
                }
            }
            decls.Add(new ThreadDecl($"t{t}", ThreadKind.User, t % cpus, MmOf(t), ops, at, at));
        }
        if (w.Preempt > 0)
        {
            // The hypervisor preempts the vCPUs in turn and runs each again; where that falls among the guest's steps is
            // the schedule's to say.
            var host = new List<OpDecl>();
            for (int i = 0; i < w.Preempt; i++)
            {
                ulong vcpu = (ulong)(i % cpus);
                host.Add(new OpDecl(OpKind.VcpuPreempt, vcpu, 0, 0, 0, null, false, [], w.Slice, 1, at));
                host.Add(new OpDecl(OpKind.VcpuResume, vcpu, 0, 0, 0, null, false, [], 0, 1, at));
            }
            decls.Add(new ThreadDecl("hypervisor", ThreadKind.Host, 0, null, host, at, at));
        }
        return scenario with { Mms = mms, Threads = decls };
    }
}

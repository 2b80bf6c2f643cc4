// Target 4: one scheduler step costs <= 100 ns. Results are per step (OperationsPerInvoke = Steps).
// Every invocation builds a fresh 2-CPU machine with 2 user threads (one per CPU) whose operations are endless
// loops of `yield return Step.Yield`, and runs exactly Steps steps (MaxSteps = Steps, outcome StepLimit). Building
// the machine is inside the timing but is amortised over 1,000,000 steps (< 0.1%).
//   MachineRun_Sequential / _Random - Machine.Run under SequentialPolicy / RandomPolicy: 5 entities (2 threads,
//                                     2 IRQ entities, the RCU softirq) scanned per step, schedule and trace hash
//                                     recorded, RunResult built (it copies the schedule).
//   SchedulerOnly_Sequential / _Random - Scheduler.Run with just the 2 threads registered: the step loop alone.
//   MachineRun_Sequential_256Cpus  - as MachineRun_Sequential on a 256-CPU machine: 259 entities scanned per step
//                                     (Scheduler.CollectRunnable asks every IRQ entity), to show the O(CPUs) scan.
//   MachineRun_TlbHitAccessStep    - each step is a whole TLB-hit access, Step.Call(Mmu.Access(...)), in thread
//                                     context (so the trace ring is written): target 1's access as the engine runs it.
// Allocated/op is the engine's schedule List<int> (4 bytes per step, grown by doubling, copied into RunResult) plus,
// for the access step, the per-access Mmu.Access iterator.
using BenchmarkDotNet.Attributes;
using Pv.Abstractions.Memory;
using Pv.Abstractions.Mm;
using Pv.Engine;
using Pv.Engine.Cpu;
using Pv.Engine.Sched;

namespace Pv.Benchmarks;

[MemoryDiagnoser]
public class SchedulerStepBenchmarks
{
    private const int Steps = 1_000_000;
    private const ulong Base = 0x7f00_0000_0000UL;
    private const int Pages = 256;

    [Benchmark(Baseline = true, OperationsPerInvoke = Steps)]
    public long MachineRun_Sequential() => RunMachine(new SequentialPolicy());

    [Benchmark(OperationsPerInvoke = Steps)]
    public long MachineRun_Random() => RunMachine(new RandomPolicy(42));

    [Benchmark(OperationsPerInvoke = Steps)]
    public long MachineRun_Sequential_256Cpus() => RunMachine(new SequentialPolicy(), cpus: 256);

    [Benchmark(OperationsPerInvoke = Steps)]
    public long SchedulerOnly_Sequential() => RunSchedulerOnly(new SequentialPolicy());

    [Benchmark(OperationsPerInvoke = Steps)]
    public long SchedulerOnly_Random() => RunSchedulerOnly(new RandomPolicy(42));

    [Benchmark(OperationsPerInvoke = Steps)]
    public long MachineRun_TlbHitAccessStep()
    {
        var m = new Machine(new MachineOptions { MaxSteps = Steps });
        var mm = m.CreateMm();
        var addresses = new ulong[Pages];
        for (int i = 0; i < Pages; i++)
        {
            addresses[i] = Base + (ulong)i * PageGeometry.PageSize;
            BenchMachines.MapPage(m, mm, addresses[i]);
        }
        for (int c = 0; c < 2; c++)
        {
            var cpu = m.Cpus[c];
            cpu.LoadMm(mm.Id);
            var r = new AccessResult();
            foreach (var a in addresses) BenchMachines.Drain(Mmu.Walk(m, cpu, mm.Id, a, AccessKind.Read, r));
            m.AddThread($"t{c}", ThreadKind.User, c, mm).Enqueue(AccessForever(m, cpu, addresses));
        }
        var result = m.Run(new SequentialPolicy());
        if (result.Outcome != RunOutcome.StepLimit || m.Metrics.TlbMisses.Value != 0) throw new InvalidOperationException($"unexpected {result.Outcome}, {m.Metrics.TlbMisses.Value} misses");
        return result.Steps;
    }

    private static IEnumerable<Step> AccessForever(Machine m, SimCpu cpu, ulong[] addresses)
    {
        var result = new AccessResult();
        for (int i = 0; ; i = (i + 1) % addresses.Length)
            yield return Step.Call(Mmu.Access(m, cpu, addresses[i], AccessKind.Read, result));
    }

    private static long RunMachine(ISchedulePolicy policy, int cpus = 2)
    {
        var m = new Machine(new MachineOptions { Cpus = cpus, MaxSteps = Steps });
        for (int c = 0; c < 2; c++) m.AddThread($"t{c}", ThreadKind.User, c, null).Enqueue(BenchMachines.YieldForever());
        var result = m.Run(policy);
        if (result.Outcome != RunOutcome.StepLimit || result.Steps != Steps) throw new InvalidOperationException($"unexpected {result.Outcome} after {result.Steps}");
        return result.Steps;
    }

    private static long RunSchedulerOnly(ISchedulePolicy policy)
    {
        var m = new Machine(new MachineOptions());
        for (int c = 0; c < 2; c++)
        {
            var t = m.AddThread($"t{c}", ThreadKind.User, c, null);
            t.Enqueue(BenchMachines.YieldForever());
            m.Scheduler.Add(t);
        }
        var outcome = m.Scheduler.Run(policy, Steps);
        if (outcome != RunOutcome.StepLimit) throw new InvalidOperationException($"unexpected {outcome}");
        return m.Scheduler.CurrentStep;
    }
}

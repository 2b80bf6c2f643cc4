// The engine's public surface is deliberately small: what Hosting, Scenarios and the CLI need to build a
// machine, load a program, run it under a policy and read the verdict, metrics and trace. A new public type
// must be a decision, so the list is spelt out here.
using Pv.Engine;

namespace Pv.Engine.Tests;

public sealed class PublicSurfaceTests
{
    [Fact]
    public void The_engine_exports_only_its_facade()
    {
        string[] expected =
        [
            "AddressLayout", "AllocSite", "EngineBugException", "EngineServiceCollectionExtensions", "ExploreOptions", "ExploreResult",
            "ExploreStrategy", "Explorer", "FileDecl", "ISchedulable", "ISchedulePolicy", "InvariantId", "KernelToggles", "Machine",
            "MachineMetrics", "MachineOptions", "MachineProgram", "MachineScope", "MmDecl", "MmuKind", "OpDecl", "OpKind", "PctPolicy",
            "PopulateDecl", "ProgramException", "ProgramLimits", "PvInputException", "RandomPolicy", "ReplayDivergedException", "ReplayPolicy", "RunOutcome", "RunResult", "SequentialPolicy",
            "SimulationInternalError", "SourceSpan", "SplitMix64", "ThreadDecl", "ThreadKind", "Toggle", "TraceEntry", "TraceEvent", "Violation",
            "ViolationReport", "VmaDecl",
            // Outcomes and the scenario's assertions over them: the program declares them, the engine records and checks them.
            "And", "Compare", "Condition", "FinalCondition", "Not", "OpOutcome", "Or", "OutcomeAssertion", "OutcomeCounts", "OutcomeKind",
            "OutcomeLog", "Quantifier",
        ];
        var exported = typeof(Machine).Assembly.GetExportedTypes().Select(t => t.Name).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(expected.Order(StringComparer.Ordinal), exported);
    }
}

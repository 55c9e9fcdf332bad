using System.Reflection;
using System.Reflection.Emit;
using Paxos.Protocol;

namespace Paxos.Tests.Architecture;

/// <summary>
/// The layers of Paxos.Core are namespaces, and these tests hold the direction of their dependencies: the
/// protocol never reaches storage, a transport or its host; messages never reach the protocol. Every type of the
/// assembly (nested and compiler-generated ones — closures, state machines — count as their outermost type) is
/// read by reflection: its base type, interfaces, fields, properties, events, method signatures, locals and every
/// type, method and field its IL names. What the compiler folds away (a <c>const</c>, <c>nameof</c>, a doc
/// comment's <c>cref</c>) leaves no trace in the assembly and is not seen.
/// </summary>
/// <remarks>Reflection rather than NetArchTest.Rules: the root namespace <c>Paxos</c> holds both the types every
/// layer shares (the ids, the executor contract) and the host's types an application uses (<see cref="PaxosNode"/>,
/// <see cref="PaxosOptions"/>), so a layer is a namespace plus a list of root types, which namespace-prefix rules do
/// not express; and a rule here is one table, with no package to keep up.</remarks>
public class LayerTests
{
    private enum Layer
    {
        Shared,
        Diagnostics,
        Messages,
        Protocol,
        Storage,
        Transport,
        Hosting,
    }

    /// <summary>What each layer may use besides itself.</summary>
    private static readonly Dictionary<Layer, Layer[]> MayUse = new()
    {
        [Layer.Shared] = [],
        [Layer.Diagnostics] = [Layer.Shared],
        [Layer.Messages] = [Layer.Shared, Layer.Diagnostics],
        [Layer.Protocol] = [Layer.Shared, Layer.Diagnostics, Layer.Messages],
        [Layer.Storage] = [Layer.Shared, Layer.Diagnostics, Layer.Messages, Layer.Protocol],
        [Layer.Transport] = [Layer.Shared, Layer.Diagnostics, Layer.Messages],
        [Layer.Hosting] = [Layer.Shared, Layer.Diagnostics, Layer.Messages, Layer.Protocol, Layer.Storage, Layer.Transport],
    };

    /// <summary>The root namespace's types that every layer may use: identifiers, the executor contract, the
    /// replica's status and the failures any layer reports.</summary>
    private static readonly HashSet<string> SharedRootTypes =
    [
        nameof(ReplicaId), nameof(ViewNumber), nameof(SequenceNumber), nameof(ClientId),
        nameof(ClientUpdate), nameof(OrderedUpdate), nameof(IExecutor), nameof(ISnapshotExecutor), nameof(IExecutorSnapshot),
        nameof(ClientSession), nameof(UpdateRejectedException),
        nameof(ReplicaStatus), nameof(ReplicaState), nameof(ReadRequestId), nameof(ReadFailure), nameof(IReadExecutor),
        nameof(PaxosInvariantException), nameof(ReplicaFaultedException),
    ];

    /// <summary>The host's types that sit in the root namespace because an application uses them.</summary>
    private static readonly HashSet<string> HostRootTypes =
    [
        nameof(PaxosNode), nameof(PaxosOptions), nameof(PaxosOptionsValidator), nameof(PaxosSubmitException), nameof(SubmitFailure),
        nameof(PaxosReadException),
    ];

    private static readonly Assembly Core = typeof(PaxosReplica).Assembly;

    [Test]
    public void No_layer_uses_a_layer_it_must_not()
    {
        var violations = new SortedSet<string>(StringComparer.Ordinal);
        foreach (var type in Core.GetTypes())
        {
            if (LayerOf(type) is not { } from)
            {
                continue;
            }

            foreach (var used in References(type))
            {
                if (LayerOf(used) is { } to && to != from && !MayUse[from].Contains(to))
                {
                    violations.Add($"{Outermost(type).FullName} ({from}) uses {Outermost(used).FullName} ({to})");
                }
            }
        }

        // Joined, so that the message lists every violation (a collection's would show the first).
        string.Join(Environment.NewLine, violations).Should().BeEmpty("a layer uses only the layers it may (MayUse): the protocol never reaches storage, a transport or the host, and messages never reach the protocol");
    }

    [Test]
    public void Every_type_of_the_library_has_a_layer()
    {
        var unplaced = Core.GetTypes()
            .Where(t => t.DeclaringType is null && IsOurs(t) && LayerOf(t) is null)
            .Select(t => t.FullName)
            .ToList();

        string.Join(Environment.NewLine, unplaced).Should().BeEmpty("a new namespace, or a new type in the root namespace, needs a place in these rules");
    }

    [Test]
    public void The_rules_read_method_bodies()
    {
        // The replica names its validator only inside its constructor: a test that read only signatures would miss it.
        References(typeof(PaxosReplica)).Should().Contain(typeof(ProtocolOptionsValidator));
        References(typeof(PaxosNode)).Should().Contain(typeof(PaxosReplica));
    }

    private static bool IsOurs(Type type) =>
        type.Namespace is { } ns && (ns == "Paxos" || ns.StartsWith("Paxos.", StringComparison.Ordinal));

    private static Type Outermost(Type type)
    {
        while (type.DeclaringType is { } outer)
        {
            type = outer;
        }

        return type;
    }

    private static Layer? LayerOf(Type type)
    {
        if (type.Assembly != Core)
        {
            return null;
        }

        type = Outermost(type);
        return type.Namespace switch
        {
            "Paxos" when SharedRootTypes.Contains(type.Name) => Layer.Shared,
            "Paxos" when HostRootTypes.Contains(type.Name) => Layer.Hosting,
            "Paxos.Diagnostics" => Layer.Diagnostics,
            "Paxos.Messages" => Layer.Messages,
            "Paxos.Protocol" => Layer.Protocol,
            "Paxos.Storage" => Layer.Storage,
            "Paxos.Transport" => Layer.Transport,
            "Paxos.Hosting" => Layer.Hosting,
            "Microsoft.Extensions.DependencyInjection" => Layer.Hosting, // AddPaxos, where .NET looks for it
            _ => null,
        };
    }

    /// <summary>Every type <paramref name="type"/> names, in its declaration and in the bodies of its members.</summary>
    private static HashSet<Type> References(Type type)
    {
        var found = new HashSet<Type>();
        Add(found, type.BaseType);
        foreach (var i in type.GetInterfaces())
        {
            Add(found, i);
        }

        const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        foreach (var field in type.GetFields(All))
        {
            Add(found, field.FieldType);
        }

        foreach (var property in type.GetProperties(All))
        {
            Add(found, property.PropertyType);
        }

        foreach (var e in type.GetEvents(All))
        {
            Add(found, e.EventHandlerType);
        }

        foreach (var method in type.GetMethods(All).Cast<MethodBase>().Concat(type.GetConstructors(All)))
        {
            if (method is MethodInfo info)
            {
                Add(found, info.ReturnType);
            }

            foreach (var parameter in method.GetParameters())
            {
                Add(found, parameter.ParameterType);
            }

            AddBody(found, method);
        }

        // Closures, iterators and async state machines are nested types: what they use, their outer type uses.
        foreach (var nested in type.GetNestedTypes(All))
        {
            found.UnionWith(References(nested));
        }

        return found;
    }

    private static void Add(HashSet<Type> found, Type? type)
    {
        if (type is null || type.IsGenericParameter)
        {
            return;
        }

        if (type.HasElementType)
        {
            Add(found, type.GetElementType());
            return;
        }

        if (type.IsGenericType && !type.IsGenericTypeDefinition)
        {
            foreach (var argument in type.GetGenericArguments())
            {
                Add(found, argument);
            }

            type = type.GetGenericTypeDefinition();
        }

        found.Add(type);
    }

    private static void AddBody(HashSet<Type> found, MethodBase method)
    {
        if (method.GetMethodBody() is not { } body)
        {
            return;
        }

        foreach (var local in body.LocalVariables)
        {
            Add(found, local.LocalType);
        }

        var il = body.GetILAsByteArray() ?? [];
        var typeArguments = method.DeclaringType is { IsGenericType: true } d ? d.GetGenericArguments() : null;
        var methodArguments = method.IsGenericMethod ? method.GetGenericArguments() : null;
        for (var at = 0; at < il.Length;)
        {
            var opCode = il[at] == 0xFE ? TwoByteOpCodes[il[at + 1]] : OneByteOpCodes[il[at]];
            at += opCode.Size;
            switch (opCode.OperandType)
            {
                case OperandType.InlineType or OperandType.InlineMethod or OperandType.InlineField or OperandType.InlineTok:
                    AddMember(found, method.Module.ResolveMember(BitConverter.ToInt32(il, at), typeArguments, methodArguments));
                    at += 4;
                    break;
                case OperandType.InlineSwitch:
                    at += 4 + (4 * BitConverter.ToInt32(il, at));
                    break;
                default:
                    at += OperandSize(opCode.OperandType);
                    break;
            }
        }
    }

    private static void AddMember(HashSet<Type> found, MemberInfo? member)
    {
        switch (member)
        {
            case Type type:
                Add(found, type);
                break;
            case FieldInfo field:
                Add(found, field.DeclaringType);
                Add(found, field.FieldType);
                break;
            case MethodBase method:
                Add(found, method.DeclaringType);
                if (method is MethodInfo { IsGenericMethod: true } generic)
                {
                    foreach (var argument in generic.GetGenericArguments())
                    {
                        Add(found, argument);
                    }
                }

                break;
        }
    }

    private static int OperandSize(OperandType operand) => operand switch
    {
        OperandType.InlineNone => 0,
        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
        OperandType.InlineVar => 2,
        OperandType.InlineI8 or OperandType.InlineR => 8,
        _ => 4, // InlineBrTarget, InlineI, InlineSig, InlineString, ShortInlineR
    };

    private static readonly OpCode[] OneByteOpCodes = new OpCode[256];
    private static readonly OpCode[] TwoByteOpCodes = new OpCode[256];

#pragma warning disable CA1810 // The two tables are filled together from one reflection pass.
    static LayerTests()
#pragma warning restore CA1810
    {
        foreach (var field in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            var opCode = (OpCode)field.GetValue(null)!;
            var value = (ushort)opCode.Value;
            if (opCode.Size == 1)
            {
                OneByteOpCodes[value] = opCode;
            }
            else
            {
                TwoByteOpCodes[value & 0xFF] = opCode;
            }
        }
    }
}

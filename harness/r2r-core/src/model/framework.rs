//! The shared frameworks an image can carry.

use serde::{Deserialize, Serialize};

/// A shared framework that an image can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Framework {
    /// `Microsoft.NETCore.App`, the .NET runtime.
    Runtime,
    /// `Microsoft.AspNetCore.App`, ASP.NET Core.
    Aspnet,
}

impl Framework {
    /// The shared framework's directory name under `shared/`.
    pub fn shared_name(self) -> &'static str {
        match self {
            Framework::Runtime => "Microsoft.NETCore.App",
            Framework::Aspnet => "Microsoft.AspNetCore.App",
        }
    }

    /// The framework whose directory under `shared/` has this name.
    pub fn from_shared_name(name: &str) -> Option<Framework> {
        [Framework::Runtime, Framework::Aspnet]
            .into_iter()
            .find(|framework| framework.shared_name() == name)
    }

    /// The NuGet runtime pack that carries this framework for linux-x64.
    pub fn runtime_pack(self) -> &'static str {
        match self {
            Framework::Runtime => "Microsoft.NETCore.App.Runtime.linux-x64",
            Framework::Aspnet => "Microsoft.AspNetCore.App.Runtime.linux-x64",
        }
    }

    /// The NuGet runtime pack that carries this framework for a runtime identifier
    /// (`linux-arm64`).
    pub fn runtime_pack_for(self, runtime_identifier: &str) -> String {
        match self {
            Framework::Runtime => format!("Microsoft.NETCore.App.Runtime.{runtime_identifier}"),
            Framework::Aspnet => format!("Microsoft.AspNetCore.App.Runtime.{runtime_identifier}"),
        }
    }
}

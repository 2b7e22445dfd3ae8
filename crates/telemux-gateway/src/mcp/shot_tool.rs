//! The `screenshot` tool: a session's screen as a PNG image content block,
//! for a model that can look at pictures (colours, layout of full-screen
//! programs) where the text of read_output loses them. Apart from `tools.rs`
//! to keep that file within its size; the server joins the routers.

use base64::Engine;
use rmcp::handler::server::tool::schema_for_output;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock};
use rmcp::{tool, tool_router, ErrorData as McpError};

use super::params::{ScreenshotOut, ScreenshotParams};
use super::result::{encode, finish};
use super::McpServer;

#[tool_router(router = screenshot_router, vis = "pub(crate)")]
impl McpServer {
    /// Draws a session's screen as a PNG.
    #[tool(
        name = "screenshot",
        description = "Take a picture of a session's screen, e.g. `MozBook/api`: returns a PNG image (colours, cursor, full-screen programs as the user sees them). For the text use read_output.",
        output_schema = schema_for_output::<ScreenshotOut>(),
        annotations(read_only_hint = true, open_world_hint = false)
    )]
    pub async fn screenshot(
        &self,
        Parameters(p): Parameters<ScreenshotParams>,
    ) -> Result<CallToolResult, McpError> {
        finish(
            async {
                let shot = self.mesh().screenshot(&p.session).await?;
                let out = ScreenshotOut {
                    session: shot.addr(),
                    cols: shot.cols,
                    rows: shot.rows,
                    width: shot.width,
                    height: shot.height,
                    bytes: shot.png.len(),
                };
                let text = format!(
                    "screenshot of {}: {}x{} cells, {}x{} px PNG ({} bytes)",
                    out.session, out.cols, out.rows, out.width, out.height, out.bytes
                );
                let mut r = encode(&out, text)?;
                let data = base64::engine::general_purpose::STANDARD.encode(&shot.png);
                r.content.insert(0, ContentBlock::image(data, "image/png"));
                Ok(r)
            }
            .await,
        )
    }
}

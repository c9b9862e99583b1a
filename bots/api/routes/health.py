"""Liveness, readiness and metrics: outside /v1, so probes need neither API keys nor rate limits."""

from __future__ import annotations

from fastapi import APIRouter, Response, status
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from bots.api.deps import MetricsDep, ServiceDep

router = APIRouter(tags=["health"])


@router.get("/healthz")
async def healthz() -> dict[str, str]:
    """The process is up and serving; says nothing about the model or the store (that is /readyz)."""
    return {"status": "ok"}


@router.get("/readyz", responses={503: {"description": "Model not loaded or store unreachable"}})
async def readyz(service: ServiceDep) -> JSONResponse:
    """Ready when the embedding model is loaded and the vector store answers; 503 otherwise. A language
    model endpoint that does not answer makes the status "degraded" (still 200)."""
    try:
        checks = await run_in_threadpool(service.ready)
    except Exception as exc:  # a probe must answer, whatever broke
        return JSONResponse(
            {"status": "unavailable", "detail": f"readiness check failed: {type(exc).__name__}"},
            status_code=status.HTTP_503_SERVICE_UNAVAILABLE,
        )
    ready = bool(checks) and all(checks.values())
    # Optional dependencies (the language model endpoint) degrade answers but never stop them: reported,
    # never a 503.
    optional = await run_in_threadpool(service.degraded) if ready else {}
    body: dict[str, object] = {"status": "ready" if ready else "unavailable", "checks": checks}
    if optional:
        body["optional"] = optional
        if not all(optional.values()):
            body["status"] = "degraded"
    return JSONResponse(
        body, status_code=status.HTTP_200_OK if ready else status.HTTP_503_SERVICE_UNAVAILABLE
    )


@router.get("/metrics", response_class=Response, responses={200: {"content": {"text/plain": {}}}})
async def metrics(app_metrics: MetricsDep) -> Response:
    """Prometheus text format: requests and latency by route template, answers, ingest counts."""
    return Response(app_metrics.render(), media_type=app_metrics.content_type)

"""The tensor names of the document pipeline contract, which the gateway and the clients rely on.

A document pipeline is an ensemble that takes one encoded page (PNG/JPEG/TIFF bytes) as
:data:`PAGE_INPUT` and returns its result as :data:`RESULT_OUTPUT`, the UTF-8 JSON of
:class:`~docserve.contract.page_result.PageResult`. The gateway finds pipelines by these two
names and both clients send and read them. Every document pipeline's ``config.pbtxt`` in
``ensembles/`` spells them too: configs cannot import Python, so
``tests/model_repository/test_config_constants.py`` checks each one against this module.
"""

PAGE_INPUT = "page_image_bytes"
RESULT_OUTPUT = "page_result_json"

<?xml version="1.0" encoding="utf-8"?>
<!-- Turns feedwatch's RSS digests into a readable page when a browser opens one; feed readers
     ignore it. Titles are output as text; descriptions are feedwatch's own sanitised HTML. -->
<xsl:stylesheet version="1.0"
    xmlns:xsl="http://www.w3.org/1999/XSL/Transform"
    xmlns:atom="http://www.w3.org/2005/Atom"
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    exclude-result-prefixes="atom dc">
  <xsl:output method="html" encoding="utf-8" indent="yes" doctype-system="about:legacy-compat"/>

  <xsl:template match="/rss/channel">
    <html lang="en">
      <head>
        <meta charset="utf-8"/>
        <meta name="viewport" content="width=device-width, initial-scale=1"/>
        <title><xsl:value-of select="title"/></title>
        <style>
          body { font: 16px/1.5 system-ui, sans-serif; max-width: 46rem; margin: 2rem auto;
                 padding: 0 1rem; color: #222; }
          .about { background: #f3f3f3; border-radius: 6px; padding: .75rem 1rem; }
          article { border-bottom: 1px solid #ddd; padding: 1rem 0; }
          h2 { font-size: 1.15rem; margin: 0 0 .25rem; }
          .meta { color: #666; font-size: .875rem; }
          code { word-break: break-all; }
        </style>
      </head>
      <body>
        <h1><xsl:value-of select="title"/></h1>
        <p><xsl:value-of select="description"/></p>
        <p class="about">This is a web feed. Copy its address
          (<code><xsl:value-of select="atom:link[@rel='self']/@href"/></code>)
          into your feed reader to follow it.</p>
        <xsl:for-each select="item">
          <article>
            <h2>
              <xsl:choose>
                <xsl:when test="link">
                  <a href="{link}"><xsl:value-of select="title"/></a>
                </xsl:when>
                <xsl:otherwise><xsl:value-of select="title"/></xsl:otherwise>
              </xsl:choose>
            </h2>
            <div class="meta">
              <xsl:value-of select="pubDate"/>
              <xsl:for-each select="dc:creator">
                <xsl:text> · </xsl:text><xsl:value-of select="."/>
              </xsl:for-each>
            </div>
            <div><xsl:value-of select="description" disable-output-escaping="yes"/></div>
          </article>
        </xsl:for-each>
      </body>
    </html>
  </xsl:template>
</xsl:stylesheet>
